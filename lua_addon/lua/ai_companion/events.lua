--[[ Game events for the daemon: player chat, joins and leaves, damage and deaths of
companions (action results are sent by actions.lua). ]]

AICompanion = AICompanion or {}
local A = AICompanion.Actions or include("ai_companion/actions.lua")

local E = {}

local function player_ref(ply)
  local id = ply:SteamID64()
  if type(id) ~= "string" or id == "" or id == "0" then id = tostring(ply:UserID()) end
  return { id = id, name = ply:Nick() }
end
E.player_ref = player_ref

local function attacker_of(dmginfo)
  local attacker = dmginfo and dmginfo:GetAttacker()
  if IsValid(attacker) and attacker:IsPlayer() then return player_ref(attacker) end
  if IsValid(attacker) then return { id = tostring(attacker:EntIndex()), name = attacker:GetClass() } end
  return nil
end

--- the companion a message speaks to: the first whose name it mentions
function E.addressed(text)
  local lower = string.lower(text)
  for sid, ent in pairs(A.companions) do
    local name = IsValid(ent) and ent:GetCompanionName()
    if type(name) == "string" and name ~= "" and string.find(lower, string.lower(name), 1, true) then
      return sid
    end
  end
  return nil
end

--- whether a player stands within `radius` units of a live companion
function E.near_companion(ply, radius)
  local pos = ply:GetPos()
  for _, ent in pairs(A.companions) do
    if IsValid(ent) and ent:GetPos():Distance(pos) <= radius then return true end
  end
  return false
end

local function convar_int(name, default)
  local cv = GetConVar(name)
  return cv and cv:GetInt() or default
end

--- Which chat goes to the daemon (ai_companion_chat, a privacy choice): 0 none; 1 (the
--- default) no commands ("/", "!"), then a message that names a companion, or one said
--- near a companion that is not team chat; 2 everything.
function E.forwarded(ply, text, team_only, sid)
  local mode = convar_int("ai_companion_chat", 1)
  if mode <= 0 then return false end
  if mode >= 2 then return true end
  if string.find(text, "^%s*[/!]") then return false end
  if sid then return true end
  if team_only then return false end
  return E.near_companion(ply, convar_int("ai_companion_chat_radius", 512))
end

hook.Add("PlayerSay", "AICompanion.Chat", function(ply, text, team_only)
  if not IsValid(ply) or type(text) ~= "string" or text == "" then return end
  local sid = E.addressed(text)
  if not E.forwarded(ply, text, team_only, sid) then return end
  local d = { type = "player_chat", player = player_ref(ply), message = text }
  if sid then d.sid = sid end
  A.emit(d, sid)
  -- nothing returned: the message is shown as usual
end)

hook.Add("PlayerInitialSpawn", "AICompanion.Join", function(ply)
  A.emit({ type = "player_join", player = player_ref(ply) })
end)

hook.Add("PlayerDisconnected", "AICompanion.Leave", function(ply)
  A.emit({ type = "player_leave", player = player_ref(ply) })
end)

function E.companion_damaged(ent, dmginfo)
  local sid = A.sid_of(ent)
  if not sid then return end
  local d = { type = "companion_damaged", amount = dmginfo:GetDamage() }
  d.attacker = attacker_of(dmginfo)
  A.emit(d, sid)
end

function E.companion_killed(ent, dmginfo)
  local sid = A.sid_of(ent)
  if not sid then return end
  A.emit({ type = "companion_killed", attacker = attacker_of(dmginfo) }, sid)
end

AICompanion.Events = E
return E
