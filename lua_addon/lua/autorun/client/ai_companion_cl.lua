-- AI Encounters companions: what players see (chat.AddText exists only on clients).
if not CLIENT then return end

local NAME_COLOR = Color(120, 200, 255)
local TEXT_COLOR = Color(255, 255, 255)

net.Receive("ai_companion_chat", function()
  local name = net.ReadString()
  local message = net.ReadString()
  chat.AddText(NAME_COLOR, name, TEXT_COLOR, ": " .. message)
end)
