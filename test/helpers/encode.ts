// The bytes a framing writes for one reply, through a fresh ReplyWriter.
import { type Command, type Framing, type Reply } from '../../src/protocol/command.js';
import { ReplyWriter } from '../../src/protocol/output.js';

export function encoded(framing: Framing, reply: Reply, command: Command): Buffer {
  const out = new ReplyWriter();
  framing.encode(reply, command, out);
  return Buffer.concat(out.take());
}
