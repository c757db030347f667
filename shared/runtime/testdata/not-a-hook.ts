/** A module whose default export is not a function definition (load-functions.test.ts). */
export default { name: "looks-like-one", on: ["switch-master"], reconcile: () => Promise.resolve() };
