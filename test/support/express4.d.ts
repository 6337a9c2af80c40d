// `express4` is the npm alias of express@4.22.3 (a dev dependency, for the Express 4 contract run).
// Typed with the Express 5 types the adapter is written against: the API the tests use is the same.
declare module 'express4' {
  import express from 'express';
  export default express;
}
