-- AI Encounters companions: server bootstrap (loads the modules, ConVars, commands).
if not SERVER then return end

AddCSLuaFile("autorun/client/ai_companion_cl.lua")
util.AddNetworkString("ai_companion_chat")
util.AddNetworkString("ai_companion_voice")

AICompanion = AICompanion or {}
AICompanion.VERSION = "0.1.0"

include("ai_companion/json.lua")
include("ai_companion/protocol.lua")
include("ai_companion/link.lua")
include("ai_companion/actions.lua")
include("ai_companion/events.lua")
include("ai_companion/connection.lua")

local FLAGS = bit and bit.bor(FCVAR_ARCHIVE, FCVAR_PROTECTED) or (FCVAR_ARCHIVE + FCVAR_PROTECTED)
CreateConVar("ai_companion_url", "ws://127.0.0.1:3002/ws", FCVAR_ARCHIVE,
  "The bridge daemon's WebSocket address (ws://host:3002/ws); several nodes of one cluster "
  .. "separated by commas (each reconnection tries the next).")
-- FCVAR_PROTECTED: the value is never sent to clients nor shown by cvarlist
CreateConVar("ai_companion_key", "", FLAGS, "The world key from `ae worlds add NAME --world gmod` (never printed).")
CreateConVar("ai_companion_server_id", "gmod-1", FCVAR_ARCHIVE, "This server's id on the bridge.")
CreateConVar("ai_companion_autostart", "1", FCVAR_ARCHIVE, "Connect to the bridge when the map loads.")
-- privacy: which players' chat goes to the daemon (see the README)
CreateConVar("ai_companion_chat", "1", FCVAR_ARCHIVE,
  "Chat sent to the bridge: 0 none, 1 only chat that names a companion or is said near one "
  .. "(never commands, nor team chat that names none), 2 all chat.")
CreateConVar("ai_companion_chat_radius", "512", FCVAR_ARCHIVE,
  "With ai_companion_chat 1: how near a companion (units) a player's chat must be said.")
-- while the daemon is away, events wait for it (and are written to the state file up to
-- twice a second): this many at most; then new events are refused, none waiting is dropped
CreateConVar("ai_companion_max_unacked", "1000", FCVAR_ARCHIVE,
  "Most events kept for the daemon while it has not acknowledged them (it is away): then new "
  .. "events are refused until it takes them; none waiting is dropped. 1 to 100000.")
CreateConVar("ai_companion_voice_radius", "1500", FCVAR_ARCHIVE,
  "Players within this many units of a companion hear its voice (0: every player).")

local function admin_only(ply)
  return not IsValid(ply) or ply:IsSuperAdmin()
end

-- the answer goes to whoever ran the command: the server console, or the admin's console
local function reply(ply, line)
  if IsValid(ply) then ply:PrintMessage(HUD_PRINTCONSOLE, line .. "\n") else print(line) end
end

concommand.Add("ai_companion_status", function(ply)
  if not admin_only(ply) then return reply(ply, "ai_companion_status is for superadmins") end
  for _, line in ipairs(AICompanion.Connection.status_lines()) do reply(ply, line) end
end, nil, "Show the AI companion bridge link's state.")

concommand.Add("ai_companion_reconnect", function(ply)
  if not admin_only(ply) then return reply(ply, "ai_companion_reconnect is for superadmins") end
  AICompanion.Connection.restart()
  reply(ply, "AI companion bridge: reconnecting")
end, nil, "Reconnect to the bridge (re-reads the ConVars; needed after a refused key).")

-- a key, address or server id set after the map loaded (a late server.cfg, rcon) takes
-- effect at once: the link starts again with the new values
AICompanion.Started = false
for _, name in ipairs({ "ai_companion_url", "ai_companion_key", "ai_companion_server_id" }) do
  cvars.AddChangeCallback(name, function(_, old, new)
    if old == new or not AICompanion.Started then return end
    AICompanion.Connection.log(name .. " changed: connecting again")
    AICompanion.Connection.restart()
  end, "AICompanion.Config")
end

hook.Add("InitPostEntity", "AICompanion.Start", function()
  if GetConVar("ai_companion_autostart"):GetBool() then
    AICompanion.Started = true
    AICompanion.Connection.start()
  end
end)

hook.Add("ShutDown", "AICompanion.Stop", function()
  AICompanion.Connection.shutdown()
end)
