/**
 * The sandbox's PKI, made with the openssl CLI on every start (EC P-256: milliseconds): a CA, the
 * apiserver's serving certificate, client certificates for the admin, the controller-manager and
 * the node's components (scheduler, kubelet, kube-proxy, CoreDNS, the apiserver as the kubelet's
 * client), and the service-account signing key pair.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Each client identity, as the apiserver's RBAC / Node authorizer sees it. */
const CLIENT_SUBJECTS = {
  admin: "/O=system:masters/CN=sandbox-admin",
  "controller-manager": "/CN=system:kube-controller-manager",
  scheduler: "/CN=system:kube-scheduler",
  "kube-proxy": "/CN=system:kube-proxy",
  coredns: "/CN=system:coredns",
  // The kubelet of the sandbox's node (the Node authorizer's system:node:<name>).
  kubelet: "/O=system:nodes/CN=system:node:sandbox-node-0",
  // The apiserver talking to the kubelet (exec, logs, port-forward).
  "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
} as const;
export type ClientName = keyof typeof CLIENT_SUBJECTS;

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  /** Client certificate/key file pairs by user name. */
  clients: Record<ClientName, { cert: string; key: string }>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function leaf(dir: string, name: string, subject: string, extensions: string[]): { cert: string; key: string } {
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
  openssl(dir, ["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "365",
    "-extfile",
    `${name}.ext`,
  ]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makePki(dir: string, serverIps: string[]): Pki {
  mkdirSync(dir, { recursive: true });
  openssl(dir, ["req", "-x509", "-new", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=failover-sandbox-ca"]);
  const sans = [
    ...serverIps.map((ip) => `IP:${ip}`),
    "IP:127.0.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  const server = leaf(dir, "apiserver", "/CN=kube-apiserver", [
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${sans.join(",")}`,
  ]);
  const clientExt = ["keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth"];
  const clients = Object.fromEntries(
    Object.entries(CLIENT_SUBJECTS).map(([name, subject]) => [name, leaf(dir, name, subject, clientExt)]),
  ) as Pki["clients"];
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"]);
  openssl(dir, ["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: server.cert,
    serverKey: server.key,
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
    clients,
  };
}

const b64 = (file: string) => readFileSync(file).toString("base64");

/**
 * A kubeconfig (JSON, which is YAML) that kubectl and @kubernetes/client-node both read,
 * authenticating with a client certificate or a bearer token.
 */
export function writeKubeconfig(
  path: string,
  pki: Pki,
  server: string,
  user: { name: string } & ({ cert: string; key: string } | { token: string }),
  namespace = "default",
): string {
  const credentials =
    "token" in user ? { token: user.token } : { "client-certificate-data": b64(user.cert), "client-key-data": b64(user.key) };
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "sandbox", cluster: { server, "certificate-authority-data": b64(pki.caCert) } }],
    users: [{ name: user.name, user: credentials }],
    contexts: [{ name: user.name, context: { cluster: "sandbox", user: user.name, namespace } }],
    "current-context": user.name,
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}
