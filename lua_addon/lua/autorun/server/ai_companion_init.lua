-- AI Encounters companions: server bootstrap (loads the modules, ConVars, commands).
if not SERVER then return end

AddCSLuaFile("autorun/client/ai_companion_cl.lua")
util.AddNetworkString("ai_companion_chat")

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
  "The bridge daemon's WebSocket address (ws://host:3002/ws).")
-- FCVAR_PROTECTED: the value is never sent to clients nor shown by cvarlist
CreateConVar("ai_companion_key", "", FLAGS, "The world key from `ae worlds add NAME --world gmod` (never printed).")
CreateConVar("ai_companion_server_id", "gmod-1", FCVAR_ARCHIVE, "This server's id on the bridge.")
CreateConVar("ai_companion_autostart", "1", FCVAR_ARCHIVE, "Connect to the bridge when the map loads.")

local function admin_only(ply)
  return not IsValid(ply) or ply:IsSuperAdmin()
end

concommand.Add("ai_companion_status", function(ply)
  if not admin_only(ply) then return end
  for _, line in ipairs(AICompanion.Connection.status_lines()) do print(line) end
end, nil, "Show the AI companion bridge link's state.")

concommand.Add("ai_companion_reconnect", function(ply)
  if not admin_only(ply) then return end
  AICompanion.Connection.restart()
end, nil, "Reconnect to the bridge (re-reads the ConVars; needed after a refused key).")

hook.Add("InitPostEntity", "AICompanion.Start", function()
  if GetConVar("ai_companion_autostart"):GetBool() then AICompanion.Connection.start() end
end)

hook.Add("ShutDown", "AICompanion.Stop", function()
  AICompanion.Connection.shutdown()
end)
