import http from 'node:http';

/**
 * The baseline of `npm run bench:api`: a bare node:http server (Node's defaults) answering GET /health with a small
 * JSON body, run as a process of its own on PORT, so that the API's figures can be read against what this machine
 * and this load generator allow at all in the same run.
 */
const body = JSON.stringify({ status: 'ok' });
const server = http.createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    response.end(body);
  } else {
    response.writeHead(404).end();
  }
});
server.listen(Number(process.env.PORT), '127.0.0.1');
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
