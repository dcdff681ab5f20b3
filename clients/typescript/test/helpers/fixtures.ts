// The shared frame fixtures (tests/fixtures/frames.json) and their JSON convention:
// {"$bin": hex} is bin (Uint8Array), {"$timestamp": ISO 8601} the timestamp extension (Date),
// {"$bigint": decimal} an integer beyond ±2^53 (bigint). A REQUEST without a "data" key carries no
// data. "canonical" fixtures are the exact bytes both peers' encoders write for the frame.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { type Frame, FrameType } from "../../src/frames.js";

export interface Fixture {
  readonly name: string;
  readonly direction: "c2s" | "s2c" | "both";
  readonly canonical: boolean;
  readonly hex: string;
  readonly frame: Record<string, unknown> | null;
}

const path = fileURLToPath(new URL("../../../../tests/fixtures/frames.json", import.meta.url));

export const fixtures: readonly Fixture[] = JSON.parse(readFileSync(path, "utf8")) as Fixture[];

/** The value a fixture's JSON stands for. */
export function revive(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(revive);
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record["$bin"] === "string") {
      return Uint8Array.from(Buffer.from(record["$bin"], "hex"));
    }
    if (typeof record["$timestamp"] === "string") {
      return new Date(record["$timestamp"]);
    }
    if (typeof record["$bigint"] === "string") {
      return BigInt(record["$bigint"]);
    }
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, revive(item)]));
  }
  return value;
}

/** The frame a fixture's meaning stands for. */
export function toFrame(meaning: Record<string, unknown>): Frame {
  const { type, ...fields } = meaning;
  const number = FrameType[type as keyof typeof FrameType];
  return { type: number, ...(revive(fields) as object) } as Frame;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function fromHex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, "hex"));
}
