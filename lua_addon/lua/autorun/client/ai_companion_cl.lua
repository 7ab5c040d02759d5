-- AI Encounters companions: what players see and hear (client realm).
if not CLIENT then return end

local NAME_COLOR = Color(120, 200, 255)
local TEXT_COLOR = Color(255, 255, 255)

net.Receive("ai_companion_chat", function()
  local name = net.ReadString()
  local message = net.ReadString()
  chat.AddText(NAME_COLOR, name, TEXT_COLOR, ": " .. message)
end)

-- voices ------------------------------------------------------------------------------
-- A voiced line arrives as the daemon's signed link to a WAV file; it plays in 3D at the
-- companion (and follows it while it speaks). Each player decides: ai_companion_voice 0
-- turns voices off (the text still shows), ai_companion_voice_volume sets their volume.
CreateClientConVar("ai_companion_voice", "1", true, false,
  "Hear AI companions speak (0: text only).", 0, 1)
CreateClientConVar("ai_companion_voice_volume", "1", true, false,
  "Volume of AI companions' voices, 0 to 1.", 0, 1)

AICompanionVoice = AICompanionVoice or {}
local V = AICompanionVoice
V.MOUTH = Vector(0, 0, 60)   -- the sound comes from the head, not the feet
V.FADE_MIN, V.FADE_MAX = 200, 1500
-- entity index -> {channel, pos}; the reference also keeps the channel alive (a channel
-- nothing refers to is garbage-collected and stops)
V.playing = V.playing or {}
V.errors = V.errors or {}

local function volume()
  return math.Clamp(GetConVar("ai_companion_voice_volume"):GetFloat(), 0, 1)
end

local function stop(index)
  local p = V.playing[index]
  V.playing[index] = nil
  if p and IsValid(p.channel) then p.channel:Stop() end
end

function V.play(index, pos, url)
  if not GetConVar("ai_companion_voice"):GetBool() then return false end
  if not string.match(url, "^https?://") then return false end
  sound.PlayURL(url, "3d noplay", function(channel, errorID, errorName)
    if not IsValid(channel) then
      -- an expired link (403), a daemon out of reach, or HTTP to a local address blocked
      V.errors[#V.errors + 1] = tostring(errorName)
      print("[ai_companion] a companion's voice did not play: " .. tostring(errorName)
        .. " (" .. tostring(errorID) .. ")")
      return
    end
    if not GetConVar("ai_companion_voice"):GetBool() then return channel:Stop() end
    stop(index)   -- one line at a time per companion
    local ent = Entity(index)
    local at = IsValid(ent) and ent:GetPos() or pos
    channel:SetPos(at + V.MOUTH)
    channel:Set3DFadeDistance(V.FADE_MIN, V.FADE_MAX)
    channel:SetVolume(volume())
    channel:Play()
    V.playing[index] = { channel = channel, pos = at }
  end)
  return true
end

net.Receive("ai_companion_voice", function()
  local index = net.ReadUInt(16)
  local pos = net.ReadVector()
  local url = net.ReadString()
  net.ReadFloat()   -- the line's length: the channel knows it once loaded
  V.play(index, pos, url)
end)

-- follow the companion while it speaks; forget finished lines
hook.Add("Think", "AICompanion.Voice", function()
  for index, p in pairs(V.playing) do
    if not IsValid(p.channel) or p.channel:GetState() == GMOD_CHANNEL_STOPPED then
      V.playing[index] = nil
    else
      local ent = Entity(index)
      if IsValid(ent) then p.channel:SetPos(ent:GetPos() + V.MOUTH) end
    end
  end
end)

cvars.AddChangeCallback("ai_companion_voice_volume", function()
  for _, p in pairs(V.playing) do
    if IsValid(p.channel) then p.channel:SetVolume(volume()) end
  end
end, "AICompanion.Voice")

cvars.AddChangeCallback("ai_companion_voice", function(_, _, new)
  if tonumber(new) == 0 then
    for index in pairs(V.playing) do stop(index) end
  end
end, "AICompanion.Voice")
