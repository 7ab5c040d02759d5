--[[ The link's I/O: a GWSockets WebSocket driven by the link state machine (link.lua).

GWSockets runs its callbacks on the main thread; a timer ticks the link (heartbeats,
acks, resends, the dead-daemon watchdog: GWSockets only notices a broken connection
when it writes). After a close the link decides: resume, identify again, or stop for
good (a refused key, 4004, is never retried; fix the key and run ai_companion_reconnect).
Reconnection waits 1, 2, 4 ... 60 s, jittered. The world key is never printed.

ai_companion_url may list several daemon nodes of one cluster, separated by commas (or
give one load-balanced address): when a node goes away (the connection drops without a
close handshake, cannot be made, or is closed with 1001) the next connection goes to the
next address in the list, round robin, and resumes the same link there (the nodes share
their state in PostgreSQL, so any node takes a resume). Other closes (identify again,
rate limited) retry the same address. The backoff grows with the failed attempts in a
row, whichever address they went to.

A map change starts a fresh Lua state. So that it resumes the same link (and nothing
the daemon queued meanwhile is lost, nothing processed runs twice), the link's identity,
its counters, the events not yet acknowledged and the live companions are kept in
data/ai_companion/link.json: written when they change (at most twice a second) and on
ShutDown, read when the addon starts. data/ is never sent to clients. The events kept are
bounded by ai_companion_max_unacked (refuse new events when full; never drop queued ones),
so a daemon away for long does not grow the file without end; a refused event is not
written.
]]

AICompanion = AICompanion or {}
local Link = AICompanion.Link or include("ai_companion/link.lua")
local A = AICompanion.Actions or include("ai_companion/actions.lua")
local P = AICompanion.protocol or include("ai_companion/protocol.lua")
local json = P.json

local C = {}
C.state = "idle"         -- idle, connecting, open, waiting (to reconnect), stopped
C.attempt = 0
C.link = nil
C.socket = nil
C.connections = 0
C.TICK = 0.05
C.STATE_DIR = "ai_companion"
C.STATE_FILE = "ai_companion/link.json"
C.SAVE_EVERY = 0.5       -- seconds between state writes while it changes
C.dirty = false
C.next_save = 0
C.forgotten = false    -- the state file was deleted (a refused key): not written again
C.url_index = 1        -- which address of ai_companion_url the next connection uses
-- close codes after which the next address is tried: the node went away (1006: no close
-- handshake, or no connection at all; 1001: stopping, or the link is held elsewhere)
C.NEXT_NODE = { [1001] = true, [1006] = true }
C.CAPABILITIES = { "chat", "move_to", "follow", "look_at", "emote", "use_entity", "stop" }

local function log(msg) print("[ai_companion] " .. msg) end
C.log = log

local function convar(name)
  local cv = GetConVar(name)
  return cv and cv:GetString() or ""
end

local function with_encoding(base)
  if string.find(base, "encoding=", 1, true) then return base end
  return base .. (string.find(base, "?", 1, true) and "&" or "?") .. "encoding=json"
end

--- Every daemon address in ai_companion_url (comma-separated), each with its encoding.
function C.urls()
  local list = {}
  for part in string.gmatch(convar("ai_companion_url"), "[^,]+") do
    local base = string.match(part, "^%s*(.-)%s*$")
    if base ~= "" then list[#list + 1] = with_encoding(base) end
  end
  return list
end

--- The address the next (or current) connection uses.
function C.url()
  local list = C.urls()
  if #list == 0 then return "" end
  return list[(C.url_index - 1) % #list + 1]
end

local function contains(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

local function new_link()
  return Link.new({
    world = "gmod",
    server_id = convar("ai_companion_server_id"),
    key = convar("ai_companion_key"),
    capabilities = C.CAPABILITIES,
    adapter = { name = "gmod-ai-companion", version = AICompanion.VERSION or "0.1.0" },
  })
end

function C.apply(effects, sock)
  if #effects > 0 then C.dirty = true end
  for _, e in ipairs(effects) do
    if e.kind == "send" then
      if sock and sock == C.socket then sock:write(e.data) end
    elseif e.kind == "dispatch" then
      local ok, err = pcall(A.handle, e.frame)
      if not ok then log("a dispatch failed: " .. tostring(err)) end
    elseif e.kind == "ready" then
      C.attempt = 0
      C.state = "open"
      log("linked to the bridge as " .. tostring(C.link.server_id) .. " (link " .. tostring(C.link.link_id) .. ")")
      C.save_state()
      local ok, err = pcall(A.restore, e.frame.d.sessions, true)
      if not ok then log("restoring sessions failed: " .. tostring(err)) end
    elseif e.kind == "resumed" then
      C.attempt = 0
      C.state = "open"
      log("link resumed (" .. tostring(C.link.link_id) .. ")")
    elseif e.kind == "error" then
      log("the bridge refused a frame: " .. tostring(e.frame.d.code) .. " " .. tostring(e.frame.d.message))
    elseif e.kind == "close" then
      log("closing the connection: " .. e.reason)
      local s = C.socket
      C.socket = nil
      if s then s:closeNow() end
      C.closed(s, 1006)
    elseif e.kind == "log" then
      log(e.message)
    end
  end
end

--- The bound on events the daemon has not acknowledged (ai_companion_max_unacked, read
--- at each event so a change applies at once); below 1, not a number or not finite
--- ("1e400" reads as infinity, which would be no bound): the default; above
--- Link.MAX_UNACKED_CAP: the cap (the state file would be far too slow to write).
function C.max_unacked()
  local cv = GetConVar("ai_companion_max_unacked")
  local n = cv and tonumber(cv:GetString())
  if not n or n ~= n or n < 1 or n == math.huge then return Link.MAX_UNACKED end
  return math.min(math.floor(n), Link.MAX_UNACKED_CAP)
end

--- Queue an event for the daemon (sent now when linked, else after the reconnection).
--- Returns true, or false and why: "not_started" (no link yet), "queue_full" (the
--- daemon has not acknowledged ai_companion_max_unacked events: refuse new events when
--- full; never drop queued ones), or an event the daemon would refuse (closing the link,
--- and the event would be resent after every reconnection): "bad_sid", "bad_data",
--- "too_big", "too_deep" (Link.BAD_EVENT says what each means, logged once per reason).
--- A refused event is neither queued nor written to the state file.
function C.event(d, sid)
  if not C.link then return false, "not_started" end
  C.link.max_unacked = C.max_unacked()
  local effects, refused = C.link:event(d, sid)
  if refused then
    -- the state did not change: a refused event costs no state file write
    for _, e in ipairs(effects) do if e.kind == "log" then log(e.message) end end
    return false, refused
  end
  C.dirty = true   -- saved even when it waits for the next connection
  C.apply(effects, C.socket)
  return true
end

function C.connect()
  timer.Remove("AICompanion.Reconnect")
  if C.state == "stopped" or not C.link then return end
  if not GWSockets then
    local ok = pcall(require, "gwsockets")
    if not ok or not GWSockets then
      C.state = "stopped"
      log("GWSockets is not installed: put gmsv_gwsockets_*.dll in garrysmod/lua/bin (see the README)")
      return
    end
  end
  local ok, sock = pcall(GWSockets.createWebSocket, C.url())
  if not ok or sock == nil then   -- GWSockets returns nothing for a malformed URL
    C.state = "stopped"
    log("bad ai_companion_url entry " .. C.url() .. " (" .. (ok and "GWSockets refused it" or tostring(sock))
      .. "): it should look like ws://127.0.0.1:3002/ws (several separated by commas); fix it to connect")
    return
  end
  C.socket = sock
  C.state = "connecting"
  C.connections = C.connections + 1
  local link = C.link
  function sock:onConnected()
    if C.socket ~= self then return end
    C.apply(link:connected(SysTime()), self)
  end
  function sock:onMessage(text)
    if C.socket ~= self then return end
    C.apply(link:receive(text, SysTime()), self)
  end
  function sock:onError(err)
    if C.socket ~= self then return end
    log("connection error: " .. tostring(err))
    if not self:isConnected() then
      local s = self
      timer.Simple(0, function() if C.socket == s then C.socket = nil C.closed(s, nil) end end)
    end
  end
  -- GWSockets passes a string: "" in release 1.3.0, the close reason on master (never
  -- the code); P.close_code reads the daemon's known reasons, else the link infers one
  function sock:onDisconnected(reason)
    if C.socket ~= self then return end
    C.socket = nil
    if type(reason) == "string" and reason ~= "" then log("the bridge closed the connection: " .. reason) end
    C.closed(self, P.close_code(reason))
  end
  sock:open()
end

--- The socket is gone: resume, identify again, or stop (after backoff).
function C.closed(sock, code)
  local link = C.link
  if not link or C.state == "stopped" or C.state == "idle" then return end
  local action = link:closed(code)
  if action == "stop" then
    C.state = "stopped"
    log("the bridge closed the link with " .. tostring(link.last_close)
      .. " (not retrying; check ai_companion_key, then run ai_companion_reconnect)")
    -- a refused key or protocol: the saved link is of no use to the next map
    if link.last_close == 4004 or link.last_close == 4011 then C.forget_state() end
    return
  end
  local delay = link:backoff(C.attempt)
  C.attempt = C.attempt + 1
  C.state = "waiting"
  local where = ""
  if #C.urls() > 1 and C.NEXT_NODE[link.last_close] then   -- another node takes the link
    C.url_index = C.url_index % #C.urls() + 1
    where = " at " .. C.url()
  end
  log(string.format("connection lost (%s); %s%s in %.1f s", tostring(link.last_close), action, where, delay))
  timer.Create("AICompanion.Reconnect", delay, 1, C.connect)
end

function C.tick()
  if C.link and C.socket and C.state ~= "stopped" then
    C.apply(C.link:tick(SysTime()), C.socket)
  end
  if C.dirty and SysTime() >= C.next_save then C.save_state() end
end

-- the state file -----------------------------------------------------------------------

local function delete_state_file()
  if file and file.Exists(C.STATE_FILE, "DATA") then file.Delete(C.STATE_FILE) end
end

--- Write the link's state (and the live companions) to data/; true when written.
function C.save_state()
  C.dirty = false
  C.next_save = SysTime() + C.SAVE_EVERY
  local link = C.link
  -- after a refused key or protocol the state was deleted: nothing of it is wanted
  if not link or not file or C.forgotten then return false end
  -- after a 4009 there is no link to resume, and before the first ready (the daemon away
  -- since the server started) there never was one, but the unacknowledged events must
  -- survive; with none, a refused link is not worth a resume on the next map
  if not (link.link_id or #link.unacked > 0) then
    delete_state_file()
    return false
  end
  local companions = {}
  for sid, ent in pairs(A.companions) do
    if IsValid(ent) then
      companions[#companions + 1] = json.object({
        sid = sid, persona = ent.Persona or json.object(), location = ent.SpawnLocation or json.object(),
      })
    end
  end
  local state = link:snapshot()
  state.server_id = link.server_id
  state.url = C.url()
  state.urls = table.concat(C.urls(), ",")
  state.companions = json.array(companions)
  if not file.IsDir(C.STATE_DIR, "DATA") then file.CreateDir(C.STATE_DIR) end
  file.Write(C.STATE_FILE, json.encode(state))
  return true
end

--- The state a previous Lua state (before a map change) left, when it is for this
--- server and daemon (one of the addresses it was saved with is still listed: the
--- nodes of a cluster share the link); nil otherwise.
function C.load_state()
  if not file or not file.Exists(C.STATE_FILE, "DATA") then return nil end
  local text = file.Read(C.STATE_FILE, "DATA")
  local state = type(text) == "string" and json.decode(text) or nil
  if type(state) ~= "table" then
    log("ignored an unreadable " .. C.STATE_FILE)
    return nil
  end
  local urls, shared = C.urls(), false
  for saved in string.gmatch(tostring(state.urls or state.url or ""), "[^,]+") do
    if contains(urls, saved) then shared = true end
  end
  if state.server_id ~= convar("ai_companion_server_id") or not shared then
    log("the saved link is for another server id or daemon: identifying anew")
    return nil
  end
  -- connect first to the node the link was on
  for i, url in ipairs(urls) do if url == state.url then C.url_index = i end end
  return state
end

function C.forget_state()
  C.forgotten = true   -- until the next start: nothing is saved again
  delete_state_file()
end

function C.start()
  if C.state ~= "idle" and C.state ~= "stopped" then return end
  if convar("ai_companion_key") == "" then
    log("ai_companion_key is not set: get a key with `ae worlds add NAME --world gmod`")
    return
  end
  local old = C.link
  C.link = new_link()
  C.forgotten = false
  if old then
    -- events never acknowledged go out on the new link, numbered as they were: identify
    -- names the link they are numbered on, and ready's `previous` drops those stored
    C.link.unacked, C.link.out_s, C.link.events_link = old.unacked, old.out_s, old.events_link
  else
    -- a fresh Lua state (a map change): resume the link the previous one left
    local state = C.load_state()
    if state and C.link:restore(state) then
      if C.link.link_id then
        log("resuming link " .. tostring(C.link.link_id) .. " from " .. C.STATE_FILE)
      else
        log(string.format("identifying with %d unacknowledged events from %s",
          #C.link.unacked, C.STATE_FILE))
      end
      local ok, err = pcall(A.restore, state.companions)
      if not ok then log("restoring companions failed: " .. tostring(err)) end
    end
  end
  C.attempt = 0
  C.state = "connecting"
  timer.Create("AICompanion.Tick", C.TICK, 0, C.tick)
  C.connect()
end

function C.restart()
  local s = C.socket
  C.socket = nil
  if s then s:closeNow() end
  timer.Remove("AICompanion.Reconnect")
  C.state = "idle"
  C.start()
end

function C.shutdown()
  if C.link then C.save_state() end
  local s = C.socket
  C.socket = nil
  C.state = "idle"
  timer.Remove("AICompanion.Reconnect")
  timer.Remove("AICompanion.Tick")
  if s then s:close() end
end

function C.status_lines()
  local link = C.link
  local key = convar("ai_companion_key")
  local lines = {
    "AI companion bridge: " .. C.state,
    "  url:        " .. C.url() .. (#C.urls() > 1 and string.format(" (%d of %d addresses)",
      (C.url_index - 1) % #C.urls() + 1, #C.urls()) or ""),
    "  server id:  " .. convar("ai_companion_server_id"),
    "  world key:  " .. (key ~= "" and "set (hidden)" or "NOT SET"),
  }
  if link then
    lines[#lines + 1] = "  link:       " .. tostring(link.link_id or "-") .. (link.ready and " (ready)" or "")
    lines[#lines + 1] = string.format("  dispatches: %d processed; events: %d sent, %d unacknowledged (at most %d)",
      link.in_s, link.out_s, #link.unacked, C.max_unacked())
    if link.refused > 0 then
      lines[#lines + 1] = string.format("  refused:    %d new events (the queue is full until the daemon acknowledges)",
        link.refused)
    end
    if link.bad_events > 0 then
      lines[#lines + 1] = string.format("  bad events: %d refused (the daemon would refuse them; see the log)",
        link.bad_events)
    end
    if link.last_close then lines[#lines + 1] = "  last close: " .. tostring(link.last_close) end
  end
  local n = 0
  for _, e in pairs(A.companions) do if IsValid(e) then n = n + 1 end end
  lines[#lines + 1] = "  companions: " .. n
  return lines
end

AICompanion.Connection = C
return C
