--[[ The adapter's side of one bridge link, as a state machine with no I/O
(the same machine as encounters_bridge.protocol.AdapterLink in Python).

Feed it what happened and the time (seconds, any monotonic clock); it returns a list
of effects for the I/O layer to carry out, in order:
  { kind = "send", data = text }          write this text frame
  { kind = "dispatch", frame = frame }    a new dispatch: carry it out (once, in order)
  { kind = "acked", s = n }               the daemon processed our events up to n
  { kind = "ready", frame = frame }       identified (frame.d.sessions: live sessions)
  { kind = "resumed", frame = frame }     resumed: replayed dispatches follow
  { kind = "error", frame = frame }       the daemon refused a frame; the link stays up
  { kind = "close", reason = text }       close the socket now (the daemon looks dead)
  { kind = "log", message = text }        something worth a line in the console
Nothing here touches a socket, a timer or GMod, so the tests drive it directly.

The events not yet acknowledged are bounded (max_unacked): refuse new events when full;
never drop queued ones. Dropping the oldest is not an option: the game already took them
as sent, and the daemon refuses a gap in the numbering (out_of_order). Link:event then
returns its effects and "queue_full"; a warning is logged once per outage (from the first
refusal until the queue has drained to half the bound, so a queue held at the bound by a
steady overload does not log a pair of lines per ack), and one line with how many were
refused when it ends. Events renumbered on a new link or restored from a snapshot are
never refused, whatever their number: new ones are, until the queue drains.
]]

AICompanion = AICompanion or {}
local P = AICompanion.protocol or include("ai_companion/protocol.lua")
local json = P.json

local Link = {}
Link.__index = Link
--- The default bound on events not yet acknowledged (ai_companion_max_unacked). They are
--- all in the state file, encoded and written on the main thread up to twice a second:
--- 1,000 chat events are ~176 KB and ~15 ms of encoding in LuaJIT (about one tick); 10,000
--- would be 1.8 MB and ~200 ms, a hitch players feel. 1,000 is minutes of a busy server.
Link.MAX_UNACKED = 1000
--- The most ai_companion_max_unacked may raise it to: 100,000 waiting events would be
--- ~18 MB of state file and ~1.5 s of encoding per write (scaled from the figures above,
--- not measured); more is never sensible.
Link.MAX_UNACKED_CAP = 100000

--- opts: world, server_id, key, capabilities, adapter {name, version}, random (fn -> [0,1)),
--- max_unacked (the bound on events not yet acknowledged; Link.MAX_UNACKED by default)
function Link.new(opts)
  local self = setmetatable({}, Link)
  self.world = opts.world or "gmod"
  self.server_id = opts.server_id
  self.key = opts.key
  self.capabilities = opts.capabilities or {}
  self.adapter = opts.adapter or { name = "gmod-ai-companion", version = "0.1.0" }
  self.random = opts.random or math.random
  self.link_id = nil
  self.resume_token = nil
  self.in_s = 0          -- last daemon dispatch processed
  self.acked_s = 0       -- last dispatch acknowledged to the daemon
  self.out_s = 0         -- last event sequence number given
  self.unacked = {}      -- events sent (or waiting), not yet acknowledged, in s order
  self.events_link = nil -- the link id the unacked events are numbered on
  self.max_unacked = opts.max_unacked or Link.MAX_UNACKED
  self.refused = 0       -- new events refused in this outage (the queue was full)
  self.full = false      -- an outage: the queue was full and has not drained to half yet
  self.bad_events = 0    -- events refused because the daemon would refuse them (Link.BAD_EVENT)
  self.bad_logged = {}   -- the reasons logged so far (each once per link)
  self.heartbeat_interval = 15
  self.next_heartbeat = nil
  self.last_recv = nil
  self.connected_at = nil
  self.awaiting = nil    -- "ready" after identify, "resumed" after resume
  self.ready = false
  self.stopped = false
  self.resend_at = nil
  self.last_close = nil
  return self
end

local function send(out, frame)
  out[#out + 1] = { kind = "send", data = P.encode(frame) }
end

--- The socket is open (the daemon sends hello next).
function Link:connected(now)
  self.connected_at = now
  self.last_recv = now
  self.ready = false
  self.awaiting = "hello"
  return {}
end

--- One text frame from the daemon.
function Link:receive(data, now)
  self.last_recv = now
  local out = {}
  local frame, err = P.decode(data)
  if not frame then
    out[#out + 1] = { kind = "log", message = "ignored a malformed frame from the daemon: " .. tostring(err) }
    return out
  end
  local op, d = frame.op, frame.d
  if op == "hello" then
    local ms = tonumber(d.heartbeat_interval) or 15000
    if ms < 50 then ms = 50 end
    self.heartbeat_interval = ms / 1000
    self.next_heartbeat = now + self.heartbeat_interval * self.random()
    if self.link_id and self.resume_token then
      self.awaiting = "resumed"
      send(out, P.resume(self.link_id, self.resume_token, self.in_s))
    else
      self.awaiting = "ready"
      -- naming the link of the unacked events: ready says how far the daemon stored them
      local previous = nil
      if #self.unacked > 0 then previous = self.events_link end
      send(out, P.identify(self.world, self.server_id, self.key, self.adapter, self.capabilities,
        previous))
    end
  elseif op == "ready" then
    if type(d.link_id) ~= "string" or type(d.resume_token) ~= "string" then
      out[#out + 1] = { kind = "log", message = "ready without link_id / resume_token" }
      return out
    end
    local ms = tonumber(d.heartbeat_interval)
    if ms and ms >= 50 then self.heartbeat_interval = ms / 1000 end
    self.link_id, self.resume_token = d.link_id, d.resume_token
    self.ready, self.awaiting = true, nil
    self.in_s, self.acked_s = 0, 0
    -- a new link identity: events not yet acknowledged are numbered again from 1, less
    -- those the daemon says it stored under the previous link (their acks were lost)
    local pending = self:_not_stored(d.previous)
    self.unacked, self.out_s, self.resend_at = {}, 0, nil
    self.events_link = d.link_id
    out[#out + 1] = { kind = "ready", frame = frame }
    for i = 1, #pending do
      local f = self:_sequence(pending[i].d, pending[i].sid)
      if i <= P.RESEND_BATCH then send(out, f) end
    end
    if #pending > P.RESEND_BATCH then self.resend_at = now + P.RESEND_PAUSE end
    self:_room_again(out)   -- `previous` may have dropped the stored ones
  elseif op == "resumed" then
    self.ready, self.awaiting = true, nil
    out[#out + 1] = { kind = "resumed", frame = frame }
    self:_resend(now, out)
  elseif op == "dispatch" then
    if frame.s == nil then
      out[#out + 1] = { kind = "log", message = "ignored a dispatch without 's'" }
    elseif frame.s <= self.in_s then
      -- a replay of one we ran: acknowledge it again, do not run it twice
      self.acked_s = self.in_s
      send(out, P.ack(self.in_s))
    else
      self.in_s = frame.s
      out[#out + 1] = { kind = "dispatch", frame = frame }
      if self.in_s - self.acked_s >= P.ACK_EVERY then
        self.acked_s = self.in_s
        send(out, P.ack(self.in_s))
      end
    end
  elseif op == "ack" or op == "heartbeat_ack" then
    local s = d.s
    if s == nil then s = d.ack end
    if P.is_int(s) and self:_ack(s) then
      out[#out + 1] = { kind = "acked", s = s }
      self:_room_again(out)
    end
  elseif op == "error" then
    local code = d.code
    if code == "rate_limited" or code == "out_of_order" then
      self.resend_at = now + P.RESEND_PAUSE   -- then resend everything unacked, in order
    end
    out[#out + 1] = { kind = "error", frame = frame }
  else
    out[#out + 1] = { kind = "log", message = "ignored an unknown op " .. tostring(op) }
  end
  return out
end

-- the unacked events less those ready's `previous` ({link_id, in_s}) says the daemon
-- stored: in_s counts events of that link, so it applies only when the unacked events
-- are numbered on it. Without it every one is sent again (one may be stored twice).
function Link:_not_stored(previous)
  if type(previous) ~= "table" or self.events_link == nil
    or previous.link_id ~= self.events_link or not P.is_int(previous.in_s) then
    return self.unacked
  end
  local rest = {}
  for _, f in ipairs(self.unacked) do
    if f.s > previous.in_s then rest[#rest + 1] = f end
  end
  return rest
end

function Link:_sequence(d, sid)
  self.out_s = self.out_s + 1
  local f = { op = "event", d = d, s = self.out_s, sid = sid }
  self.unacked[#self.unacked + 1] = f
  return f
end

function Link:_ack(s)
  local n = 0
  while self.unacked[n + 1] and self.unacked[n + 1].s <= s do n = n + 1 end
  if n == 0 then return false end
  local rest = {}
  for i = n + 1, #self.unacked do rest[#rest + 1] = self.unacked[i] end
  self.unacked = rest
  return true
end

-- unacknowledged events, oldest first, one burst now; the rest after a pause
function Link:_resend(now, out)
  local total = #self.unacked
  for i = 1, math.min(total, P.RESEND_BATCH) do send(out, self.unacked[i]) end
  if total > P.RESEND_BATCH then self.resend_at = now + P.RESEND_PAUSE else self.resend_at = nil end
end

-- the outage ends once the queue has drained to half the bound: one line says how many
-- events were refused in it, and the next refusal warns again
function Link:_room_again(out)
  if not self.full or #self.unacked > math.floor(self.max_unacked / 2) then return end
  out[#out + 1] = { kind = "log", message = string.format(
    "the daemon acknowledged the waiting events: new events are accepted again (%d refused "
    .. "while the queue was full)", self.refused) }
  self.full, self.refused = false, 0
end

-- What an event must be for the daemon to take it (bridge/spec/README.md E2, E3, V1): it
-- closes the link with 4002 / 4012 on any other frame, and a queued event is resent after
-- every reconnection, so one bad event would hold the link down for good with every
-- event behind it. Each reason: how to fix it, logged at its first refusal by this link.
Link.BAD_EVENT = {
  bad_sid = "the session id must be nil or a string of 1 to 64 characters (a number or an empty "
    .. "string is not one): pass the sid of a dispatch as it came, or nil",
  bad_data = "the event data must be a table of JSON values (strings, numbers, booleans, "
    .. "tables, AICompanion.json.null), not marked as an array, and not hold functions, "
    .. "entities or other userdata: pass names and ids, not the objects",
  too_big = string.format("the event's frame would be over %d bytes, the daemon's limit: "
    .. "send less (a summary, not a whole inventory or log)", P.MAX_FRAME_BYTES),
  too_deep = string.format("the event nests tables more than %d levels deep (the frame and "
    .. "its d count as two), the daemon's limit: flatten it", P.MAX_DEPTH),
}

-- The reason the daemon would refuse {op = "event", d = d, s, sid}, or nil. The walk is
-- iterative and counts levels as the daemon does (the frame 0, d 1, a value deeper than
-- P.MAX_DEPTH is refused), and gives up past MAX_FRAME_BYTES values (each is at least a
-- byte of JSON), so a cyclic or huge table costs bounded work; the size is that of the
-- frame as this link would send it (json.lua, with the largest s, so renumbering later
-- cannot push it over).
local function bad_event(d, sid)
  if sid ~= nil and (type(sid) ~= "string" or sid == "" or P.utf8_len(sid) > 64) then
    return "bad_sid"
  end
  if type(d) ~= "table" or d == json.null or getmetatable(d) == json.ARRAY_MT then
    return "bad_data"
  end
  local stack, values = { { d, 1 } }, 0
  while #stack > 0 do
    local v, depth = stack[#stack][1], stack[#stack][2]
    stack[#stack] = nil
    values = values + 1
    if values > P.MAX_FRAME_BYTES then return "too_big" end
    if depth > P.MAX_DEPTH then return "too_deep" end
    local tv = type(v)
    if tv == "table" and v ~= json.null then
      for k, x in pairs(v) do
        local tk = type(k)
        if tk == "string" or tk == "number" then stack[#stack + 1] = { x, depth + 1 } end
      end
    elseif tv ~= "string" and tv ~= "number" and tv ~= "boolean" and v ~= json.null then
      return "bad_data"
    end
  end
  local ok, text = pcall(P.encode, { op = "event", d = json.object(d), s = P.MAX_SEQUENCE, sid = sid })
  if not ok then return "bad_data" end
  if #text > P.MAX_FRAME_BYTES then return "too_big" end
  return nil
end
Link.bad_event = bad_event

--- Queue an event (d must have a string type); sent now when ready, else after the
--- next ready / resumed. Kept until the daemon acknowledges it. Returns the effects, and
--- why it was refused: "queue_full" (max_unacked events wait for the daemon's ack: refuse
--- new events when full; never drop queued ones), or one of Link.BAD_EVENT's reasons (the
--- daemon would close the link over it). A refused event takes no sequence number and
--- changes nothing (no state write).
function Link:event(d, sid)
  local out = {}
  local bad = bad_event(d, sid)
  if bad then
    self.bad_events = self.bad_events + 1
    if not self.bad_logged[bad] then
      self.bad_logged[bad] = true
      out[#out + 1] = { kind = "log", message = string.format(
        "refused an event (%s, type %s): %s. Nothing was queued or sent; the next refusals "
        .. "for this reason are not logged (AICompanion.Connection.event returns false, \"%s\")",
        bad, type(d) == "table" and tostring(rawget(d, "type")) or "?", Link.BAD_EVENT[bad], bad) }
    end
    return out, bad
  end
  if #self.unacked >= self.max_unacked then
    self.refused = self.refused + 1
    if not self.full then
      self.full = true
      out[#out + 1] = { kind = "log", message = string.format(
        "%d events wait for the daemon's acknowledgement (ai_companion_max_unacked): new events "
        .. "are refused until it takes them; none waiting is dropped", #self.unacked) }
    end
    return out, "queue_full"
  end
  local f = self:_sequence(json.object(d), sid)
  if self.ready and self.resend_at == nil then send(out, f) end
  return out
end

--- Call often (every server tick): resends, heartbeats (they carry the ack), acks
--- still owed, and the dead-daemon watchdog.
function Link:tick(now)
  local out = {}
  if self.connected_at == nil then return out end
  if self.last_recv and now - self.last_recv > 2 * self.heartbeat_interval + 5 then
    out[#out + 1] = { kind = "close", reason = "no frame from the daemon for too long" }
    self.connected_at = nil
    return out
  end
  if not self.ready then return out end
  if self.resend_at and now >= self.resend_at then self:_resend(now, out) end
  if self.next_heartbeat and now >= self.next_heartbeat then
    self.next_heartbeat = now + self.heartbeat_interval
    self.acked_s = self.in_s
    send(out, P.heartbeat(self.in_s))
  end
  if self.in_s > self.acked_s then
    self.acked_s = self.in_s
    send(out, P.ack(self.in_s))
  end
  return out
end

--- The connection ended. `code` is the close code when the socket library reports
--- one (GWSockets does not: then it is inferred: a close while identify waits for
--- ready is taken as an authentication failure, 4004, and one while resume waits
--- for resumed as an invalid session, 4009). Returns "resume", "identify" or "stop".
function Link:closed(code)
  local waiting = self.awaiting
  self.ready, self.awaiting, self.connected_at = false, nil, nil
  if code == nil then
    if waiting == "ready" then code = P.CLOSE.AUTH_FAILED
    elseif waiting == "resumed" then code = P.CLOSE.SESSION_INVALID
    else code = 1006 end
  end
  self.last_close = code
  local action = P.retry_after(code)
  if action == "identify" then self.link_id, self.resume_token = nil, nil end
  if action == "stop" then self.stopped = true end
  return action
end

--- What survives a map change (a fresh Lua state): the link identity, the last dispatch
--- processed, the events the daemon has not acknowledged yet and the link they are
--- numbered on (after a 4009 there is no link identity, only those events; events queued
--- before the first ready, the daemon away since the server started, are on no link).
function Link:snapshot()
  local unacked = {}
  for i, f in ipairs(self.unacked) do
    unacked[i] = json.object({ s = f.s, sid = f.sid, d = f.d })
  end
  return json.object({
    link_id = self.link_id, resume_token = self.resume_token, events_link = self.events_link,
    in_s = self.in_s, out_s = self.out_s, unacked = json.array(unacked),
  })
end

--- Take up a snapshot: the next connection resumes the link instead of identifying;
--- a snapshot without a link identity (taken after a 4009) identifies, naming the link
--- its unacknowledged events are numbered on, so ready's `previous` still applies. One
--- with neither (events queued before any ready) identifies naming no link: no event of
--- it was ever sent, and ready numbers them all from 1 on the new link.
function Link:restore(state)
  if type(state) ~= "table" then return false end
  local linked = type(state.link_id) == "string" and type(state.resume_token) == "string"
  local events_link = state.events_link
  if type(events_link) ~= "string" then events_link = state.link_id end
  if not (linked or state.link_id == nil)
    or not P.is_int(state.in_s) or not P.is_int(state.out_s) then
    return false
  end
  if linked then
    self.link_id, self.resume_token = state.link_id, state.resume_token
  else
    self.link_id, self.resume_token = nil, nil
  end
  self.events_link = events_link
  self.in_s, self.acked_s, self.out_s = state.in_s, state.in_s, state.out_s
  self.unacked = {}
  if type(state.unacked) == "table" then
    for _, f in ipairs(state.unacked) do
      if type(f) == "table" and P.is_int(f.s) and type(f.d) == "table" then
        local sid = f.sid
        if type(sid) ~= "string" then sid = nil end
        self.unacked[#self.unacked + 1] = { op = "event", d = f.d, s = f.s, sid = sid }
      end
    end
  end
  return true
end

function Link:backoff(attempt)
  return P.backoff(attempt, self.random)
end

AICompanion.Link = Link
return Link
