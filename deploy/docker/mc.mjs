// A tiny memcache-text client for deploy/docker/smoke.sh (plain node, no dependencies, so it runs
// on the CI host whatever is installed):
//
//   node mc.mjs HOST PORT 'set q 0 0 2' 'ab' 'get q'        → prints the replies, exits
//   node mc.mjs --hold HOST PORT 'get q/open'              → prints the replies, then keeps the
//        connection (and so the open item) until the server closes it; prints "closed" then.
//
// Each argument is one line (\r\n added). A `version` is sent last as a marker: replies come in
// order, so everything before its VERSION line is the reply to the lines given. Gives up after 10 s.
import { connect } from 'node:net';

const args = process.argv.slice(2);
const hold = args[0] === '--hold';
if (hold) args.shift();
const [host, port, ...lines] = args;
if (!host || !port || lines.length === 0) {
  process.stderr.write('usage: node mc.mjs [--hold] HOST PORT LINE...\n');
  process.exit(2);
}

const timer = setTimeout(() => {
  process.stderr.write(`mc: no complete reply from ${host}:${port} in 10 s\n`);
  process.exit(1);
}, 10_000);
const socket = connect({ host, port: Number(port) });
let buf = '';
let answered = false;
socket.on('connect', () => socket.write(lines.map((l) => `${l}\r\n`).join('') + 'version\r\n'));
socket.on('data', (chunk) => {
  if (answered) return;
  buf += chunk.toString('latin1');
  const at = buf.search(/(^|\r\n)VERSION [^\r\n]*\r\n/);
  if (at < 0) return;
  answered = true;
  process.stdout.write(buf.slice(0, at).replace(/\r\n/g, '\n') + (at > 0 ? '\n' : ''));
  if (!hold) {
    clearTimeout(timer);
    socket.end();
    return;
  }
  clearTimeout(timer); // held: wait as long as the server keeps the connection
});
socket.on('close', () => {
  if (hold && answered) process.stdout.write('closed\n');
  process.exit(answered ? 0 : 1);
});
socket.on('error', (err) => {
  process.stderr.write(`mc: ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
