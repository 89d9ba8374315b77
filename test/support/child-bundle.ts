/** The child bundler the tests share with the soak and the bench (`tools/child-bundle.ts`). */
export { bundleChild } from '../../tools/child-bundle.js';
