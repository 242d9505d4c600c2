// Publish one event over ZeroMQ DEALER and wait for the broker's acknowledgement
// (docs/protocol.md §3.1). The `id` makes a retry safe: the same (channel, id)
// within the dedupe window is answered with the original seq and dup: true.
// Needs the npm packages zeromq and @msgpack/msgpack: `npm ci` in this directory.
// Run: node zmq_dealer.mjs    (HERALD_ROUTER: the broker's ROUTER, default tcp://127.0.0.1:5556)
import { Dealer } from "zeromq";
import { decode, encode } from "@msgpack/msgpack";

const dealer = new Dealer({ receiveTimeout: 5000, linger: 0 }); // receive() throws after 5 s
dealer.connect(process.env.HERALD_ROUTER || "tcp://127.0.0.1:5556");
await dealer.send(encode({ ch: "demo", type: "greeting", data: { from: "node-zmq" },
                           id: "greeting-node-zmq" }));
const reply = decode((await dealer.receive())[0]);
console.log(JSON.stringify(reply)); // {"seq":1,"epoch":"…","dup":false}, or {"error":…,"message":…}
dealer.close();
if (reply.error) process.exit(1);
