// @ts-check
// Frames of the bridge protocol (bridge/PROTOCOL.md, "Link" and "Envelope") for the web
// world: JSON in text frames only (a browser link is always `?encoding=json`). Plain ES
// module with no imports and no I/O: the browser loads it as it is, and node's test
// runner imports the same file (test/ in tests/adapters/web).

export const PROTOCOL_VERSION = 1
export const MAX_FRAME_BYTES = 64 * 1024
export const MAX_DEPTH = 32
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER // 2^53 - 1

/** Close codes of PROTOCOL.md. */
export const CLOSE = Object.freeze({
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

/**
 * What an adapter does after the link closed with `code`.
 * @param {number} code
 * @returns {'stop' | 'identify' | 'resume'}
 */
export function retryAfterClose (code) {
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

export class DecodeError extends Error {
  /** @param {string} message @param {number} [code] the close code it calls for */
  constructor (message, code = CLOSE.DECODE_ERROR) {
    super(message)
    this.name = 'DecodeError'
    this.code = code
  }
}

/**
 * @typedef {{op: string, d: Record<string, any>, s?: number, sid?: string}} Frame
 */

/** @param {unknown} value @returns {value is Record<string, any>} */
export function isPlainObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof ArrayBuffer)
}

/**
 * Nesting depth of a decoded value, without recursion (the envelope is level 1); stops
 * counting once past the limit.
 * @param {unknown} value
 */
export function depthOf (value) {
  let deepest = 0
  /** @type {Array<[unknown, number]>} */
  const stack = [[value, 1]]
  while (stack.length > 0) {
    const [item, depth] = /** @type {[unknown, number]} */ (stack.pop())
    if (item === null || typeof item !== 'object') continue
    if (depth > deepest) deepest = depth
    if (deepest > MAX_DEPTH + 1) return deepest
    const children = Array.isArray(item) ? item : Object.values(item)
    for (const child of children) stack.push([child, depth + 1])
  }
  return deepest
}

/** The wire form of a frame: `{op, d, s?, sid?}` (absent fields are left out). @param {Frame} frame */
export function toWire (frame) {
  /** @type {Frame} */
  const wire = { op: frame.op, d: frame.d ?? {} }
  if (frame.s !== undefined && frame.s !== null) wire.s = frame.s
  if (frame.sid !== undefined && frame.sid !== null) wire.sid = frame.sid
  return wire
}

/** The JSON text of a frame. @param {Frame} frame */
export function encodeFrame (frame) {
  return JSON.stringify(toWire(frame))
}

/** UTF-8 length of a string, without allocating its bytes. @param {string} text */
export function utf8Length (text) {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) { n += 4; i++ } else n += 3
  }
  return n
}

/**
 * Decode one frame as it arrived: `data` is the WebSocket message's data (a string for a
 * text frame; anything else is a binary frame, which a JSON link never carries). The
 * size is checked before parsing, nesting after. Throws DecodeError.
 * @param {unknown} data
 * @param {number} [maxBytes]
 * @returns {Frame}
 */
export function decodeFrame (data, maxBytes = MAX_FRAME_BYTES) {
  if (typeof data !== 'string') {
    throw new DecodeError('this link speaks JSON in text frames; got a binary frame')
  }
  const bytes = utf8Length(data)
  if (bytes > maxBytes) {
    throw new DecodeError(`frame of ${bytes} bytes is over the ${maxBytes} limit`, CLOSE.FRAME_TOO_LARGE)
  }
  let raw
  try {
    raw = JSON.parse(data)
  } catch (err) {
    throw new DecodeError(`not valid json: ${err instanceof Error ? err.message : String(err)}`)
  }
  return frameFrom(raw)
}

/** Check the envelope of a decoded value (PROTOCOL.md, "Envelope"). @param {unknown} raw @returns {Frame} */
export function frameFrom (raw) {
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
  // (characters counted as the daemon counts them, by code point, not UTF-16 unit)
  if (sid !== undefined && sid !== null &&
      (typeof sid !== 'string' || sid.length === 0 || [...sid].length > 64)) {
    throw new DecodeError("'sid' must be a string of 1 to 64 characters")
  }
  /** @type {Frame} */
  const frame = { op, d }
  if (s !== undefined && s !== null) frame.s = s
  if (sid !== undefined && sid !== null) frame.sid = sid
  return frame
}
