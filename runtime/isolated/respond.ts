import type { ServerResponse } from 'node:http';
import { errorBody } from '../errors.ts';

/** The runtime's one error shape, `{"error":{"code","message"}}`, from the gateway itself. */
export function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 503) headers['retry-after'] = '1';
  response.writeHead(status, headers).end(JSON.stringify(errorBody(code, message)));
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
