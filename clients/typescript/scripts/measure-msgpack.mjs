// Measures encode and decode speed of Swill frames with the two candidate MessagePack libraries,
// each set up the way Swill needs it (standard maps, nil for undefined, integers beyond 32 bits
// as int64/uint64, integers beyond ±2^53 as bigint). Run: npm run measure
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Packr } from "msgpackr";

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// @msgpack/msgpack: subclassed the way src/frames.ts does it.
class MsgpackEncoder extends Encoder {
  encodeNumber(n) {
    if (Number.isSafeInteger(n) && (n >= 0x100000000 || n < -0x80000000)) this.encodeBigInt64(BigInt(n));
    else super.encodeNumber(n);
  }
}
class MsgpackDecoder extends Decoder {
  readU64AsBigInt() {
    const v = super.readU64AsBigInt();
    return v <= SAFE ? Number(v) : v;
  }
  readI64AsBigInt() {
    const v = super.readI64AsBigInt();
    return v <= SAFE && v >= -SAFE ? Number(v) : v;
  }
}
const msgpackEncoder = new MsgpackEncoder({ useBigInt64: true });
const msgpackDecoder = new MsgpackDecoder({ useBigInt64: true });

// msgpackr: its packer writes integers beyond 32 bits as float64 and has no switch for it, so
// those have to become bigint before packing (a walk over every outgoing value).
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: "auto",
  encodeUndefinedAsNil: true,
});
function widen(value) {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && (value >= 0x100000000 || value < -0x80000000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(widen);
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    const out = {};
    for (const key of Object.keys(value)) out[key] = widen(value[key]);
    return out;
  }
  return value;
}

const user = (i) => ({
  id: i,
  name: `user ${i}`,
  email: `user${i}@example.com`,
  tags: ["admin", "beta"],
  score: 0.75 + i,
  active: i % 2 === 0,
});
const frames = {
  "REQUEST add": [0, 123, "add", null, null, [1, 2]],
  "RESPONSE int": [6, 123, 3, null, null],
  "DATA object": [1, 7, user(42)],
  "DATA 50 objects": [1, 7, Array.from({ length: 50 }, (_, i) => user(i))],
  "DATA 1 KiB bin": [1, 7, new Uint8Array(1024).fill(7)],
  "DATA date+ms": [1, 7, { at: new Date(1_700_000_000_123), ms: 1_700_000_000_123 }],
  HELLO: [8, 0, { version: 1, max_message_size: 1048576, max_concurrent_calls: 100, client_window: 16, server: "swill/0.1.0" }],
};

const libs = {
  "@msgpack/msgpack": {
    encode: (v) => msgpackEncoder.encode(v),
    decode: (b) => msgpackDecoder.decode(b),
  },
  msgpackr: {
    encode: (v) => packr.pack(widen(v)),
    decode: (b) => packr.unpack(b),
  },
};

function rate(fn, arg) {
  // Warm up, then time batches for about 300 ms.
  for (let i = 0; i < 2000; i++) fn(arg);
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 300) {
    for (let i = 0; i < 1000; i++) fn(arg);
    n += 1000;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

const rows = [];
for (const [frameName, frame] of Object.entries(frames)) {
  const row = { frame: frameName };
  for (const [libName, lib] of Object.entries(libs)) {
    const bytes = lib.encode(frame);
    const copy = Uint8Array.from(bytes); // decode from a plain Uint8Array, as from a WebSocket
    row[`${libName} encode/s`] = Math.round(rate(lib.encode, frame));
    row[`${libName} decode/s`] = Math.round(rate(lib.decode, copy));
  }
  rows.push(row);
}
console.table(rows);
