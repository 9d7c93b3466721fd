import { createServer } from 'node:http';

/** The floor: node:http's hello world, nothing between the socket and the answer. */
createServer((_request, response) => response.end('ok')).listen(Number(process.env['PORT']), '127.0.0.1');
