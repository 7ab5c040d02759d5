--[[ The bridge protocol's wire layer (bridge/PROTOCOL.md), version 1, JSON links only.

No GMod calls and no sockets: frames in, strings out. `encode` builds the text of one
frame; `decode` parses and checks one frame's envelope exactly as the daemon does
(an object with a string "op"; "d" an object; "s" a whole number from 1 to 2^53 - 1;
"sid" a string of 1 to 64 characters). Close codes and what an adapter does after each
live here too, with the reconnection backoff.
]]

AICompanion = AICompanion or {}
local json = AICompanion.json or include("ai_companion/json.lua")

local P = {}

P.VERSION = 1
P.MAX_FRAME_BYTES = 64 * 1024
P.MAX_SEQUENCE = 9007199254740991
P.MAX_DEPTH = 32        -- the daemon's frames.MAX_DEPTH: values below the frame, d is 1
P.ACK_EVERY = 32        -- dispatches processed before an ack is due (else: next tick)
P.RESEND_PAUSE = 1.0    -- seconds after rate_limited / out_of_order before resending
P.RESEND_BATCH = 40     -- most events resent at once (the daemon's burst)
P.BACKOFF_MAX = 60
P.json = json

P.CLOSE = {
  NORMAL = 1000, GOING_AWAY = 1001, UNKNOWN_ERROR = 4000, DECODE_ERROR = 4002,
  NOT_IDENTIFIED = 4003, AUTH_FAILED = 4004, ALREADY_IDENTIFIED = 4005,
  INVALID_SEQUENCE = 4007, RATE_LIMITED = 4008, SESSION_INVALID = 4009,
  UNSUPPORTED_PROTOCOL = 4011, FRAME_TOO_LARGE = 4012, HEARTBEAT_TIMEOUT = 4013,
  REPLACED = 4014,
}

-- what to do after a close: "resume", "identify" or "stop" (PROTOCOL.md, Close codes)
function P.retry_after(code)
  if code == 1000 or code == 4004 or code == 4011 or code == 4014 then return "stop" end
  if code == 4003 or code == 4009 or code == 4007 then return "identify" end
  return "resume"
end

-- The close code behind a close reason. Real GWSockets passes onDisconnected a string,
-- never a close code: empty in release 1.3.0, the close frame's reason on master. The
-- daemon's reasons for the closes that change what an adapter does are known texts.
P.REASONS = {
  { "world key", 4004 }, { "uses another key", 4004 }, { "unknown link or bad token", 4009 },
  { "this link was replaced", 4009 }, { "a newer link of this server", 4014 },
  { "unsupported protocol", 4011 }, { "daemon shutting down", 1001 },
}

--- what onDisconnected got -> a close code, or nil when it says nothing (then the link
--- infers one from what it was waiting for)
function P.close_code(value)
  if type(value) == "number" then return value end
  if type(value) ~= "string" or value == "" then return nil end
  local n = tonumber(value)
  if n and n >= 1000 and n <= 4999 and n == math.floor(n) then return n end
  local lower = string.lower(value)
  for _, pair in ipairs(P.REASONS) do
    if string.find(lower, pair[1], 1, true) then return pair[2] end
  end
  return nil
end

-- seconds before reconnection attempt `attempt` (0-based): 1, 2, 4 ... 60, each
-- multiplied by a factor in [0.5, 1]; `rnd` returns a number in [0, 1)
function P.backoff(attempt, rnd)
  local a = attempt
  if a > 6 then a = 6 end
  local base = 2 ^ a
  if base > P.BACKOFF_MAX then base = P.BACKOFF_MAX end
  return base * (0.5 + 0.5 * (rnd or math.random)())
end

local function utf8_len(s)
  local _, count = string.gsub(s, "[^\128-\191]", "")
  return count
end
P.utf8_len = utf8_len   -- characters (of valid UTF-8), as the daemon counts a sid

local function is_int(v)
  return type(v) == "number" and v == math.floor(v) and v == v
end
P.is_int = is_int

--- frame: {op = string, d = table or nil, s = number or nil, sid = string or nil}
function P.encode(frame)
  local d = frame.d
  if d == nil then d = json.object() end
  local wire = json.object({ op = frame.op, d = d })
  if frame.s ~= nil then wire.s = frame.s end
  if frame.sid ~= nil then wire.sid = frame.sid end
  return json.encode(wire)
end

--- Any value as JSON text (a vector may send arrays, scalars, frames without "op").
function P.encode_value(value)
  return json.encode(value)
end

--- One frame from a text message: frame, or nil, error message, close code.
function P.decode(data, max_bytes)
  max_bytes = max_bytes or (16 * 1024 * 1024)
  if type(data) ~= "string" then return nil, "not a text frame", P.CLOSE.DECODE_ERROR end
  if #data > max_bytes then
    return nil, "frame of " .. #data .. " bytes is over the " .. max_bytes .. " limit",
      P.CLOSE.FRAME_TOO_LARGE
  end
  local raw, err = json.decode(data)
  if raw == nil then return nil, "not valid json: " .. tostring(err), P.CLOSE.DECODE_ERROR end
  if type(raw) ~= "table" or json.kind_of(raw) ~= "object" then
    return nil, "a frame must be an object", P.CLOSE.DECODE_ERROR
  end
  local op = raw.op
  if type(op) ~= "string" or op == "" then
    return nil, "a frame needs a string 'op'", P.CLOSE.DECODE_ERROR
  end
  local d = raw.d
  if d == nil or d == json.null then d = json.object() end
  if type(d) ~= "table" or json.kind_of(d) ~= "object" then
    return nil, "'d' must be an object", P.CLOSE.DECODE_ERROR
  end
  local s = raw.s
  if s == json.null then s = nil end
  if s ~= nil and (not is_int(s) or s < 1 or s > P.MAX_SEQUENCE) then
    return nil, "'s' must be a whole number from 1 to 2^53 - 1", P.CLOSE.DECODE_ERROR
  end
  local sid = raw.sid
  if sid == json.null then sid = nil end
  if sid ~= nil and (type(sid) ~= "string" or sid == "" or utf8_len(sid) > 64) then
    return nil, "'sid' must be a string of 1 to 64 characters", P.CLOSE.DECODE_ERROR
  end
  return { op = op, d = d, s = s, sid = sid, raw = raw }
end

-- the frames an adapter sends -----------------------------------------------------

-- previous_link: the link id the adapter's unacknowledged events are numbered on (or nil)
function P.identify(world, server_id, key, adapter, capabilities, previous_link)
  return { op = "identify", d = json.object({
    protocol = P.VERSION, world = world, server_id = server_id, key = key,
    adapter = json.object(adapter or { name = "gmod-ai-companion", version = "0.1.0" }),
    capabilities = json.array(capabilities or {}),
    previous_link = previous_link,
  }) }
end

function P.resume(link_id, resume_token, last_s)
  return { op = "resume", d = json.object({ link_id = link_id, resume_token = resume_token, last_s = last_s }) }
end

function P.heartbeat(ack) return { op = "heartbeat", d = json.object({ ack = ack }) } end
function P.ack(s) return { op = "ack", d = json.object({ s = s }) } end

AICompanion.protocol = P
return P
