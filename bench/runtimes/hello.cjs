// The peer's hello world: a function module as `func create -l node` lays it out (module.exports
// with a `handle`), served by faas-js-runtime's CLI the way the function's `npm start` runs it.
module.exports = { handle: () => 'ok' };
