--[[ Dispatches from the daemon: spawn, despawn and actions. Every action ends in one
action_done or action_failed event; an unknown or malformed one gets action_failed
(unknown_action / bad_arguments), never a Lua error. ]]

AICompanion = AICompanion or {}
local json = AICompanion.json or include("ai_companion/json.lua")

local A = {}
A.companions = {}   -- sid -> entity
A.CLASS = "ai_companion"
-- emote -> activity, all from the GMod wiki's ACT enums (Enums/ACT). They are the player
-- models' gestures and taunts: a model without the activity (most NPC models, the
-- default citizen included) answers done with a detail instead of a broken animation.
A.EMOTE_GESTURES = {
  wave = ACT_GMOD_GESTURE_WAVE, agree = ACT_GMOD_GESTURE_AGREE, nod = ACT_GMOD_GESTURE_AGREE,
  disagree = ACT_GMOD_GESTURE_DISAGREE, beckon = ACT_GMOD_GESTURE_BECON, bow = ACT_GMOD_GESTURE_BOW,
  point = ACT_GMOD_GESTURE_POINT, dance = ACT_GMOD_TAUNT_DANCE, cheer = ACT_GMOD_TAUNT_CHEER,
  laugh = ACT_GMOD_TAUNT_LAUGH, salute = ACT_GMOD_TAUNT_SALUTE, muscle = ACT_GMOD_TAUNT_MUSCLE,
  robot = ACT_GMOD_TAUNT_ROBOT,
}

-- true, or false and why (see Connection.event: "queue_full" while the daemon is away long;
-- "bad_sid", "bad_data", "too_big", "too_deep" for an event the daemon would refuse)
local function emit(d, sid)
  if AICompanion.Connection then return AICompanion.Connection.event(d, sid) end
  return false, "not_started"
end
A.emit = emit

local function is_num(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end
local function is_str(v) return type(v) == "string" and v ~= "" end

function A.find_player(ref)
  if type(ref) == "number" then ref = tostring(ref) end
  if not is_str(ref) then return nil end
  local lower = string.lower(ref)
  for _, ply in ipairs(player.GetAll()) do
    if ply:SteamID64() == ref or ply:SteamID() == ref or tostring(ply:UserID()) == ref
      or string.lower(ply:Nick()) == lower then
      return ply
    end
  end
  return nil
end

-- spawn / despawn -------------------------------------------------------------------

function A.spawn(sid, persona, location)
  if not is_str(sid) or type(persona) ~= "table" or type(location) ~= "table"
    or not is_num(location.x) or not is_num(location.y) or not is_num(location.z) then
    return nil, "bad_arguments"
  end
  local existing = A.companions[sid]
  if IsValid(existing) then return existing end   -- a replay, or a live session after a restart
  local ent = ents.Create(A.CLASS)
  if not IsValid(ent) then return nil, "spawn_failed" end
  local model = persona.avatar
  if type(model) == "string" and util.IsValidModel(model) then ent.CompanionModel = model end
  ent.Persona = persona
  ent.SpawnLocation = json.object({ x = location.x, y = location.y, z = location.z })
  ent.SessionIdValue = sid
  ent:SetPos(Vector(location.x, location.y, location.z))
  ent:SetCompanionName(is_str(persona.name) and persona.name or "Companion")
  ent:SetSessionId(sid)
  ent:Spawn()
  ent:Activate()
  A.companions[sid] = ent
  emit({ type = "spawned", entity = tostring(ent:EntIndex()) }, sid)
  return ent
end

function A.despawn(sid)
  local ent = A.companions[sid]
  A.companions[sid] = nil
  if IsValid(ent) then ent:Remove() end
end

function A.sid_of(ent)
  for sid, e in pairs(A.companions) do if e == ent then return sid end end
  return nil
end

--- the sessions of a ready frame: spawn the ones not here yet (after a daemon restart
--- they come back this way); with `authoritative` (a ready: the daemon's list of live
--- sessions on this server) companions it does not list leave. After a map change the
--- state file's companions come back the same way, before the link resumes.
function A.restore(sessions, authoritative)
  if type(sessions) ~= "table" then return end
  if authoritative then
    local listed = {}
    for _, s in ipairs(sessions) do
      if type(s) == "table" and is_str(s.sid) then listed[s.sid] = true end
    end
    for sid in pairs(A.companions) do
      if not listed[sid] then A.despawn(sid) end
    end
  end
  for _, s in ipairs(sessions) do
    if type(s) == "table" and is_str(s.sid) and not IsValid(A.companions[s.sid]) then
      A.spawn(s.sid, type(s.persona) == "table" and s.persona or {}, type(s.location) == "table"
        and s.location or { x = 0, y = 0, z = 0 })
    end
  end
end

-- actions -----------------------------------------------------------------------------

local handlers = {}

--- The players who hear a companion: those within ai_companion_voice_radius units of
--- it (0: everyone on the server).
function A.listeners(ent)
  local cv = GetConVar("ai_companion_voice_radius")
  local radius = cv and cv:GetFloat() or 1500
  local here = ent:GetPos()
  local out = {}
  for _, ply in ipairs(player.GetAll()) do
    if radius <= 0 or ply:GetPos():DistToSqr(here) <= radius * radius then out[#out + 1] = ply end
  end
  return out
end

--- A voiced line (the daemon's signed link to its audio) goes to the players near the
--- companion; each client plays it at the companion (autorun/client/ai_companion_cl.lua).
function A.send_voice(ent, audio)
  if type(audio) ~= "table" or not is_str(audio.url) then return false end
  if not string.match(audio.url, "^https?://") or #audio.url > 2000 then return false end
  local listeners = A.listeners(ent)
  if #listeners == 0 then return false end
  net.Start("ai_companion_voice")
  net.WriteUInt(ent:EntIndex(), 16)
  net.WriteVector(ent:GetPos())
  net.WriteString(audio.url)
  net.WriteFloat(is_num(audio.duration) and audio.duration or 0)
  net.Send(listeners)
  return true
end

function handlers.chat(ent, action, done, failed)
  local message = action.message
  if not is_str(message) then return failed("bad_arguments") end
  net.Start("ai_companion_chat")
  net.WriteString(ent:GetCompanionName() or "Companion")
  net.WriteString(message)
  net.Broadcast()
  A.send_voice(ent, action.audio)
  done()
end

local function point_of(action)
  local p = action
  if type(action.target) == "table" then p = action.target end
  if is_num(p.x) and is_num(p.y) and is_num(p.z) then return Vector(p.x, p.y, p.z) end
  return nil
end

function handlers.move_to(ent, action, done, failed)
  local goal = point_of(action)
  if not goal then return failed("bad_arguments") end
  ent:SetTask({ kind = "move_to", goal = goal, tolerance = 20,
    on_done = function() done() end, on_failed = function(why) failed(why) end })
end

function handlers.follow(ent, action, done, failed)
  local target = A.find_player(action.target)
  if action.target == nil then return failed("bad_arguments") end
  if not target then return failed("no_target") end
  local distance = action.distance
  if distance == nil then distance = 3 end
  if not is_num(distance) or distance <= 0 then return failed("bad_arguments") end
  ent:SetTask({ kind = "follow", target = target, tolerance = distance * ent.UnitsPerMeter,
    on_reached = function() done() end,
    on_failed = function(why) failed(why) end })
end

function handlers.look_at(ent, action, done, failed)
  local point
  if action.target ~= nil and type(action.target) ~= "table" then
    local ply = A.find_player(action.target)
    if not ply then return failed("no_target") end
    point = ply:EyePos()
  else
    point = point_of(action)
  end
  if not point then return failed("bad_arguments") end
  ent.loco:FaceTowards(point)
  ent:SetEyeTarget(point)
  done()
end

function handlers.emote(ent, action, done, failed)
  local name = action.name or action.emote
  if not is_str(name) then return failed("bad_arguments") end
  local allowed = ent.Persona and ent.Persona.emotes
  if type(allowed) ~= "table" or not table.HasValue(allowed, name) then return failed("unknown_emote") end
  local act = A.EMOTE_GESTURES[name]
  if not act then return done("no gesture for this emote") end
  if ent:SelectWeightedSequence(act) < 0 then return done("this model has no " .. name .. " gesture") end
  ent:AddGesture(act)
  done()
end

function handlers.use_entity(ent, action, done, failed)
  local index = tonumber(action.entity)
  if not index then return failed("bad_arguments") end
  local target = ents.GetByIndex(index)
  if not IsValid(target) then return failed("no_entity") end
  target:Use(ent, ent, USE_ON, 1)
  done()
end

function handlers.stop(ent, action, done, failed)
  ent:SetTask(nil)
  done()
end

A.handlers = handlers

--- Run one action for a session; reports exactly once.
function A.run_action(sid, action)
  if type(action) ~= "table" or json.kind_of(action) ~= "object" then
    emit({ type = "action_failed", reason = "bad_arguments" }, sid)
    return
  end
  local id = action.id
  if type(id) ~= "string" then id = nil end
  local reported = false
  local function done(detail)
    if reported then return end
    reported = true
    local d = { type = "action_done", action_id = id }
    if type(detail) == "string" then d.detail = detail end
    emit(d, sid)
  end
  local function failed(reason)
    if reported then return end
    reported = true
    emit({ type = "action_failed", action_id = id, reason = reason or "failed" }, sid)
  end
  local handler = handlers[action.type]
  if type(action.type) ~= "string" or not handler then return failed("unknown_action") end
  local ent = A.companions[sid]
  if not IsValid(ent) then return failed("no_companion") end
  local ok, err = pcall(handler, ent, action, done, failed)
  if not ok then
    print("[ai_companion] action " .. tostring(action.type) .. " failed: " .. tostring(err))
    failed("internal_error")
  end
end

--- One dispatch frame (called by the connection; errors are caught there too).
function A.handle(frame)
  local d = frame.d
  local sid = frame.sid
  if type(d.sid) == "string" then sid = d.sid end
  if d.type == "spawn" then
    local _, err = A.spawn(sid, d.persona, d.location)
    if err then emit({ type = "kicked", reason = "spawn failed: " .. err, final = true }, sid) end
  elseif d.type == "despawn" then
    A.despawn(sid)
  elseif d.type == "action" then
    A.run_action(sid, d.action)
  else
    print("[ai_companion] ignored a dispatch of unknown type " .. tostring(d.type))
  end
end

AICompanion.Actions = A
return A
