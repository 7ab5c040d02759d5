'use strict'
// Frames and their two encodings (bridge/PROTOCOL.md, "Link" and "Envelope").
//
// json: one JSON object per text frame. msgpack: one MessagePack map per binary frame.
// The encoding is fixed for a link. No sockets here: values in, bytes or text out.

const msgpack = require('@msgpack/msgpack')

const PROTOCOL_VERSION = 1
const MAX_FRAME_BYTES = 64 * 1024
const MAX_DEPTH = 32
const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER // 2^53 - 1
const ENCODINGS = ['json', 'msgpack']

/** Close codes of PROTOCOL.md, with what an adapter does after each. */
const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNKNOWN_ERROR: 4000,
  DECODE_ERROR: 4002,
  NOT_IDENTIFIED: 4003,
  AUTH_FAILED: 4004,
  ALREADY_IDENTIFIED: 4005,
  INVALID_SEQUENCE: 4007,
  RATE_LIMITED: 4008,
  SESSION_INVALID: 4009,
  UNSUPPORTED_PROTOCOL: 4011,
  FRAME_TOO_LARGE: 4012,
  HEARTBEAT_TIMEOUT: 4013,
  REPLACED: 4014
})

/** 'stop' (never retry), 'identify' (start a new link) or 'resume'. */
function retryAfterClose (code) {
  if (code === CLOSE.NORMAL || code === CLOSE.AUTH_FAILED || code === CLOSE.UNSUPPORTED_PROTOCOL ||
      code === CLOSE.REPLACED) {
    return 'stop'
  }
  if (code === CLOSE.NOT_IDENTIFIED || code === CLOSE.SESSION_INVALID ||
      code === CLOSE.INVALID_SEQUENCE) {
    return 'identify'
  }
  return 'resume' // 1001, 1006, 4000, 4002, 4005, 4008, 4012, 4013 and anything unknown
}

class DecodeError extends Error {
  constructor (message, code = CLOSE.DECODE_ERROR) {
    super(message)
    this.name = 'DecodeError'
    this.code = code
  }
}

function isPlainObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) &&
    !(value instanceof Uint8Array)
}

/** Nesting depth of a decoded value, without recursion (the envelope is level 1). */
function depthOf (value) {
  let deepest = 0
  const stack = [[value, 1]]
  while (stack.length > 0) {
    const [item, depth] = stack.pop()
    if (item === null || typeof item !== 'object' || item instanceof Uint8Array) continue
    if (depth > deepest) deepest = depth
    if (deepest > MAX_DEPTH + 1) return deepest
    const children = Array.isArray(item) ? item : Object.values(item)
    for (const child of children) stack.push([child, depth + 1])
  }
  return deepest
}

/**
 * Why the daemon would refuse the event frame `{op: 'event', d, s, sid}` on a link of this
 * encoding (bridge/spec/README.md E2, E3, V1: it closes the link with 4002 or 4012), or
 * null: 'bad_sid' (sid not absent nor a string of 1 to 64 characters), 'bad_data' (d not
 * a plain object, or the encoder refuses it: a BigInt, a cycle), 'too_deep' (a value deeper
 * than MAX_DEPTH, counted as the daemon does: the frame 0, d 1) or 'too_big' (the encoded
 * frame, with the largest s, over MAX_FRAME_BYTES). The depth walk is iterative and gives
 * up past MAX_FRAME_BYTES values (each is at least a byte on the wire), so a cyclic or huge
 * value costs bounded work before it is encoded.
 */
function eventProblem (d, sid, encoding) {
  if (sid !== undefined && sid !== null) {
    // characters as the daemon counts them (code points, not UTF-16 units)
    if (typeof sid !== 'string' || sid.length === 0 || [...sid].length > 64) return 'bad_sid'
  }
  if (!isPlainObject(d)) return 'bad_data'
  const stack = [[d, 1]]
  let values = 0
  while (stack.length > 0) {
    const [item, depth] = stack.pop()
    values += 1
    if (values > MAX_FRAME_BYTES) return 'too_big'
    if (depth > MAX_DEPTH) return 'too_deep'
    if (item === null || typeof item !== 'object' || item instanceof Uint8Array) continue
    const children = Array.isArray(item) ? item : Object.values(item)
    for (const child of children) {
      if (child !== undefined && typeof child !== 'function') stack.push([child, depth + 1])
    }
  }
  let data
  try {
    data = encodeFrame({ op: 'event', d, s: MAX_SEQUENCE, sid }, encoding)
  } catch {
    return 'bad_data'
  }
  const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length
  return bytes > MAX_FRAME_BYTES ? 'too_big' : null
}

/** The wire form of a frame: `{op, d, s?, sid?}` (absent fields are left out). */
function toWire (frame) {
  const wire = { op: frame.op, d: frame.d ?? {} }
  if (frame.s !== undefined && frame.s !== null) wire.s = frame.s
  if (frame.sid !== undefined && frame.sid !== null) wire.sid = frame.sid
  return wire
}

/** Text (json) or bytes (msgpack) for any value; frames go through toWire first. */
function encodeValue (value, encoding) {
  if (encoding === 'json') return JSON.stringify(value)
  if (encoding === 'msgpack') return Buffer.from(msgpack.encode(value, { ignoreUndefined: true }))
  throw new Error(`unknown encoding ${encoding}`)
}

function encodeFrame (frame, encoding) {
  return encodeValue(toWire(frame), encoding)
}

/**
 * Decode one frame from the wire. `isBinary` says which kind of WebSocket frame it came
 * in: a json link carries text frames only, a msgpack link binary frames only.
 * Returns `{op, d, s, sid}` (s and sid undefined when absent) or throws DecodeError.
 */
function decodeFrame (data, isBinary, encoding, maxBytes = MAX_FRAME_BYTES) {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length
  if (bytes > maxBytes) {
    throw new DecodeError(`frame of ${bytes} bytes is over the ${maxBytes} limit`,
      CLOSE.FRAME_TOO_LARGE)
  }
  let raw
  if (encoding === 'json') {
    if (isBinary) throw new DecodeError('this link speaks JSON in text frames; got a binary frame')
    try {
      raw = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'))
    } catch (err) {
      throw new DecodeError(`not valid json: ${err.message}`)
    }
  } else {
    if (!isBinary) throw new DecodeError('this link speaks MessagePack in binary frames; got text')
    try {
      raw = msgpack.decode(typeof data === 'string' ? Buffer.from(data) : data,
        { maxArrayLength: 10000, maxMapLength: 10000 })
    } catch (err) {
      throw new DecodeError(`not valid msgpack: ${err.message}`)
    }
  }
  return frameFrom(raw)
}

/** Check the envelope of a decoded value (PROTOCOL.md, "Envelope"). */
function frameFrom (raw) {
  if (!isPlainObject(raw)) throw new DecodeError('a frame must be an object')
  if (depthOf(raw) > MAX_DEPTH + 1) throw new DecodeError(`frame is nested deeper than ${MAX_DEPTH}`)
  const { op, s, sid } = raw
  if (typeof op !== 'string' || op.length === 0) throw new DecodeError("a frame needs a string 'op'")
  let d = raw.d
  if (d === undefined || d === null) d = {}
  if (!isPlainObject(d)) throw new DecodeError("'d' must be an object")
  if (s !== undefined && s !== null &&
      (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_SEQUENCE)) {
    throw new DecodeError(`'s' must be a whole number from 1 to ${MAX_SEQUENCE}`)
  }
  if (sid !== undefined && sid !== null &&
      (typeof sid !== 'string' || sid.length === 0 || sid.length > 64)) {
    throw new DecodeError("'sid' must be a string of 1 to 64 characters")
  }
  return { op, d, s: s ?? undefined, sid: sid ?? undefined }
}

module.exports = {
  PROTOCOL_VERSION,
  MAX_FRAME_BYTES,
  MAX_DEPTH,
  MAX_SEQUENCE,
  ENCODINGS,
  CLOSE,
  DecodeError,
  retryAfterClose,
  isPlainObject,
  depthOf,
  toWire,
  encodeValue,
  encodeFrame,
  eventProblem,
  decodeFrame,
  frameFrom
}
