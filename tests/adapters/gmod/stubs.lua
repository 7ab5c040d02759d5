--[[ Stand-ins for the parts of the Garry's Mod Lua API the addon uses, for one realm
(SERVER or CLIENT is set by the harness before this file runs). Plain Lua 5.1.

The harness (tests/adapters/gmod/world.py) drives them: it sets the clock (__set_time), runs
__tick() once per server frame (timers, Think hooks, which is where the GWSockets
stand-in delivers its callbacks, and each nextbot's RunBehaviour coroutine), and moves
net messages between the realms.
]]

__console = {}
local function log_line(s) __console[#__console + 1] = s end
function print(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  log_line(table.concat(parts, "\t"))
end
function Msg(...) print(...) end
function MsgN(...) print(...) end
function MsgC(...)
  local parts = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) ~= "table" then parts[#parts + 1] = tostring(v) end
  end
  log_line(table.concat(parts))
end
function ErrorNoHalt(...) print("[ErrorNoHalt]", ...) end
function ErrorNoHaltWithStack(...) print("[ErrorNoHalt]", ...) end
__lua_errors = {}

-- time ------------------------------------------------------------------------------
local now, frame_time = 0, 0.015
function __set_time(t, dt) now = t frame_time = dt or frame_time end
function CurTime() return now end
function SysTime() return now end
function RealTime() return now end
function FrameTime() return frame_time end

-- basic types -------------------------------------------------------------------------
local VectorMT = {}
VectorMT.__index = VectorMT
function Vector(x, y, z)
  if type(x) == "table" then x, y, z = x.x, x.y, x.z end
  return setmetatable({ x = x or 0, y = y or 0, z = z or 0 }, VectorMT)
end
function isvector(v) return getmetatable(v) == VectorMT end
VectorMT.__add = function(a, b) return Vector(a.x + b.x, a.y + b.y, a.z + b.z) end
VectorMT.__sub = function(a, b) return Vector(a.x - b.x, a.y - b.y, a.z - b.z) end
VectorMT.__mul = function(a, b)
  if type(a) == "number" then a, b = b, a end
  return Vector(a.x * b, a.y * b, a.z * b)
end
VectorMT.__div = function(a, b) return Vector(a.x / b, a.y / b, a.z / b) end
VectorMT.__eq = function(a, b) return a.x == b.x and a.y == b.y and a.z == b.z end
VectorMT.__tostring = function(a) return string.format("%f %f %f", a.x, a.y, a.z) end
function VectorMT:Length() return math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z) end
function VectorMT:Distance(o) return (self - o):Length() end
function VectorMT:DistToSqr(o) local d = self - o return d.x * d.x + d.y * d.y + d.z * d.z end
function VectorMT:GetNormalized() local l = self:Length() if l == 0 then return Vector() end return self / l end
function VectorMT:Dot(o) return self.x * o.x + self.y * o.y + self.z * o.z end
function VectorMT:Angle() return Angle(0, math.deg(math.atan2(self.y, self.x)), 0) end
function VectorMT:IsZero() return self.x == 0 and self.y == 0 and self.z == 0 end
function Angle(p, y, r) return { p = p or 0, y = y or 0, r = r or 0 } end
function Color(r, g, b, a) return { r = r, g = g, b = b, a = a or 255, __color = true } end
function isstring(v) return type(v) == "string" end
function isnumber(v) return type(v) == "number" end
function istable(v) return type(v) == "table" end
function isfunction(v) return type(v) == "function" end
function IsValid(v)
  if v == nil or type(v) ~= "table" and type(v) ~= "userdata" then return false end
  local f = v.IsValid
  return f ~= nil and f(v) and true or false
end
NULL = setmetatable({}, { __index = { IsValid = function() return false end } })

function table.Count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
function table.HasValue(t, v) for _, x in pairs(t) do if x == v then return true end end return false end
function string.Trim(s) return (string.gsub(s, "^%s*(.-)%s*$", "%1")) end
function math.Clamp(x, a, b) if x < a then return a end if x > b then return b end return x end

-- constants ---------------------------------------------------------------------------
FCVAR_ARCHIVE, FCVAR_PROTECTED, FCVAR_DONTRECORD, FCVAR_NOTIFY, FCVAR_UNLOGGED = 128, 32, 131072, 256, 2048
-- ACT enums as the GMod wiki lists them (Enums/ACT); there is no ACT_GMOD_GESTURE_SALUTE
ACT_INVALID, ACT_IDLE, ACT_WALK, ACT_RUN = -1, 1, 6, 10
ACT_GMOD_GESTURE_AGREE, ACT_GMOD_GESTURE_BECON, ACT_GMOD_GESTURE_BOW = 1610, 1611, 1612
ACT_GMOD_GESTURE_DISAGREE, ACT_GMOD_TAUNT_SALUTE, ACT_GMOD_GESTURE_WAVE = 1613, 1614, 1615
ACT_GMOD_TAUNT_PERSISTENCE, ACT_GMOD_TAUNT_MUSCLE, ACT_GMOD_TAUNT_LAUGH = 1616, 1617, 1618
ACT_GMOD_GESTURE_POINT, ACT_GMOD_TAUNT_CHEER = 1619, 1620
ACT_GMOD_TAUNT_DANCE, ACT_GMOD_TAUNT_ROBOT = 1642, 1643
USE_ON, USE_TOGGLE = 1, 3
HUD_PRINTNOTIFY, HUD_PRINTCONSOLE, HUD_PRINTTALK, HUD_PRINTCENTER = 1, 2, 3, 4
-- the activities a model has: NPC models (citizens, alyx) walk, run and idle; player
-- models (models/player/...) also have GMod's gestures and taunts
local NPC_ACTS = { [ACT_IDLE] = true, [ACT_WALK] = true, [ACT_RUN] = true }
local PLAYER_ACTS = { [ACT_IDLE] = true, [ACT_WALK] = true, [ACT_RUN] = true }
for act = 1610, 1620 do PLAYER_ACTS[act] = true end
PLAYER_ACTS[ACT_GMOD_TAUNT_DANCE], PLAYER_ACTS[ACT_GMOD_TAUNT_ROBOT] = true, true

-- hooks -------------------------------------------------------------------------------
hook = { _t = {} }
function hook.Add(event, name, fn) hook._t[event] = hook._t[event] or {} hook._t[event][name] = fn end
function hook.Remove(event, name) if hook._t[event] then hook._t[event][name] = nil end end
function hook.GetTable() return hook._t end
function hook.Call(event, gm, ...)
  local list = hook._t[event]
  if list then
    local names = {}
    for name in pairs(list) do names[#names + 1] = name end
    table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
    for _, name in ipairs(names) do
      local fn = list[name]
      if fn then
        local a, b, c = fn(...)
        if a ~= nil then return a, b, c end
      end
    end
  end
end
function hook.Run(event, ...) return hook.Call(event, nil, ...) end

-- timers -------------------------------------------------------------------------------
timer = { _t = {}, _simple = {} }
function timer.Create(name, delay, reps, fn)
  timer._t[name] = { delay = delay, reps = reps, left = reps, fn = fn, due = now + delay }
end
function timer.Simple(delay, fn) timer._simple[#timer._simple + 1] = { due = now + delay, fn = fn } end
function timer.Remove(name) timer._t[name] = nil end
function timer.Exists(name) return timer._t[name] ~= nil end
function timer.TimeLeft(name) local t = timer._t[name] return t and (t.due - now) end
function timer.Adjust(name, delay) local t = timer._t[name] if t then t.delay = delay t.due = now + delay end end
local function run_timers()
  local simple = timer._simple
  timer._simple = {}
  for _, t in ipairs(simple) do
    if now >= t.due then t.fn() else timer._simple[#timer._simple + 1] = t end
  end
  local names = {}
  for name in pairs(timer._t) do names[#names + 1] = name end
  for _, name in ipairs(names) do
    local t = timer._t[name]
    if t and now >= t.due then
      t.due = now + t.delay
      if t.reps > 0 then
        t.left = t.left - 1
        if t.left <= 0 then timer._t[name] = nil end
      end
      t.fn()
    end
  end
end

-- console variables and commands --------------------------------------------------------
local convars = {}
local ConVarMT = {}
ConVarMT.__index = ConVarMT
function ConVarMT:GetString() return self.value end
function ConVarMT:GetInt() return math.floor(tonumber(self.value) or 0) end
function ConVarMT:GetFloat() return tonumber(self.value) or 0 end
function ConVarMT:GetBool() return (tonumber(self.value) or 0) ~= 0 end
function ConVarMT:GetName() return self.name end
function ConVarMT:GetDefault() return self.default end
function ConVarMT:GetFlags() return self.flags end
local function set_convar(cv, v)
  local old = cv.value
  cv.value = tostring(v)
  if old ~= cv.value then cvars._run(cv.name, old, cv.value) end
end
function ConVarMT:SetString(v) set_convar(self, v) end
cvars = { _cb = {} }
function cvars.AddChangeCallback(name, fn, id)
  cvars._cb[name] = cvars._cb[name] or {}
  if id then cvars._cb[name][id] = fn else table.insert(cvars._cb[name], fn) end
end
function cvars.RemoveChangeCallback(name, id) if cvars._cb[name] then cvars._cb[name][id] = nil end end
function cvars._run(name, old, new)
  for _, fn in pairs(cvars._cb[name] or {}) do fn(name, old, new) end
end
function CreateConVar(name, default, flags, help)
  if convars[name] then return convars[name] end
  local value = __preset_convars and __preset_convars[name] or tostring(default)
  local cv = setmetatable({ name = name, value = value, default = tostring(default), flags = flags or 0, help = help }, ConVarMT)
  convars[name] = cv
  return cv
end
function GetConVar(name) return convars[name] end
-- client ConVars (saved in the client's config, or sent to the server as userinfo)
function CreateClientConVar(name, default, shouldsave, userinfo, help, min, max)
  return CreateConVar(name, default, 0, help)
end
concommand = { _t = {} }
function concommand.Add(name, fn, autocomplete, help, flags) concommand._t[name] = fn end
function concommand.Run(ply, name, args, argstr)
  local fn = concommand._t[name]
  if not fn then print("Unknown command: " .. name) return false end
  fn(ply, name, args or {}, argstr or "")
  return true
end
function RunConsoleCommand(name, ...)
  local args = { ... }
  if convars[name] then set_convar(convars[name], args[1]) return end
  concommand.Run(NULL, name, args, table.concat(args, " "))
end

-- file, under data/ (the harness sets __data_dir: it outlives a map change) ---------------
file = {}
local function data_path(name)
  if type(name) ~= "string" or string.find(name, "..", 1, true) or string.find(name, "^/") then
    error("file: bad path " .. tostring(name))
  end
  return __data_dir .. "/" .. name
end
local WRITABLE = { txt = true, dat = true, json = true, xml = true, csv = true }
function file.Write(name, data)
  local ext = string.match(name, "%.(%w+)$")
  if not ext or not WRITABLE[string.lower(ext)] then return end   -- GMod refuses other extensions
  local f = io.open(data_path(name), "wb")
  if not f then return end   -- a missing folder: nothing written, as in GMod
  f:write(data)
  f:close()
end
function file.Read(name, path)
  local f = io.open(data_path(name), "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end
function file.Exists(name, path)
  local f = io.open(data_path(name), "rb")
  if f then f:close() return true end
  return __is_dir(data_path(name))
end
function file.IsDir(name, path) return __is_dir(data_path(name)) end
function file.CreateDir(name) __make_dir(data_path(name)) end
function file.Delete(name) os.remove(data_path(name)) end

-- util, net ------------------------------------------------------------------------------
util = { _strings = {} }
function util.AddNetworkString(name) util._strings[name] = true return 1 end
function util.NetworkStringToID(name) return util._strings[name] and 1 or 0 end
function util.IsValidModel(m) return type(m) == "string" and string.sub(m, -4) == ".mdl" end
function util.TableToJSON() error("util.TableToJSON is not used by the addon (see json.lua)") end
function util.JSONToTable() error("util.JSONToTable is not used by the addon (see json.lua)") end

net = { _receivers = {}, _out = nil, _in = nil, _pos = 0 }
function net.Start(name)
  if SERVER and not util._strings[name] then error("net.Start: unpooled message name " .. tostring(name)) end
  net._out = { name = name, values = {} }
end
local function wr(v) table.insert(net._out.values, v) end
function net.WriteString(s) wr("s" .. tostring(s)) end
function net.WriteUInt(n) wr("n" .. tostring(n)) end
function net.WriteInt(n) wr("n" .. tostring(n)) end
function net.WriteFloat(n) wr("n" .. tostring(n)) end
function net.WriteBool(b) wr(b and "b1" or "b0") end
function net.WriteEntity(e) wr("e" .. tostring(IsValid(e) and e:EntIndex() or 0)) end
function net.WriteColor(c) wr("c" .. c.r .. "," .. c.g .. "," .. c.b .. "," .. (c.a or 255)) end
function net.WriteVector(v) wr("v" .. v.x .. "," .. v.y .. "," .. v.z) end
local function send_out(target, recipients)
  local m = net._out
  net._out = nil
  __net_send(m.name, m.values, target, recipients)
end
function net.Broadcast() send_out("all") end
-- net.Send takes one player or a table of players (or a CRecipientFilter): the
-- harness is told the UserIDs of the recipients
function net.Send(target)
  local ids = {}
  if type(target) == "table" and target.UserID == nil then
    for _, p in ipairs(target) do ids[#ids + 1] = p:UserID() end
  else
    ids[1] = target:UserID()
  end
  send_out("player", ids)
end
function net.SendToServer() send_out("server") end
function net.Receive(name, fn) net._receivers[string.lower(name)] = fn end
local function rd()
  net._pos = net._pos + 1
  return net._in[net._pos] or ""
end
function net.ReadString() return string.sub(rd(), 2) end
function net.ReadUInt() return tonumber(string.sub(rd(), 2)) end
net.ReadInt, net.ReadFloat = net.ReadUInt, net.ReadUInt
function net.ReadVector()
  local x, y, z = string.match(rd(), "^v([^,]+),([^,]+),([^,]+)$")
  return Vector(tonumber(x), tonumber(y), tonumber(z))
end
function net.ReadBool() return rd() == "b1" end
function net.ReadColor()
  local r, g, b, a = string.match(rd(), "^c(%d+),(%d+),(%d+),(%d+)$")
  return Color(tonumber(r), tonumber(g), tonumber(b), tonumber(a))
end
function __net_deliver(name, values)
  local fn = net._receivers[string.lower(name)]
  if not fn then return false end
  net._in, net._pos = values, 0
  fn(#values * 8, nil)
  return true
end

-- chat (client) ---------------------------------------------------------------------------
chat = {}
__chat_log = {}
if CLIENT then
  function chat.AddText(...)
    local line = { n = select("#", ...) }
    for i = 1, line.n do line[i] = (select(i, ...)) end
    __chat_log[#__chat_log + 1] = line
  end
  function chat.PlaySound() end
end

-- sound.PlayURL (client) ------------------------------------------------------------------
--[[ As the GMod wiki documents it: sound.PlayURL(url, flags, callback); flags is "" or
space-separated words among 3d, mono, noplay, noblock; the stream loads in the
background and the callback runs later, on the main thread, as callback(channel) or,
when loading failed, callback(nil, errorID, errorName) with BASS's error code. The
harness fetches the URL for real (__fetch_audio: HTTP GET, returns status, content type
and the length in seconds of the WAV it got). An IGModAudioChannel without a Lua
reference is garbage-collected and stops, so callers keep one. ]]
sound = {}
__sound_log = {}
GMOD_CHANNEL_STOPPED, GMOD_CHANNEL_PLAYING, GMOD_CHANNEL_PAUSED, GMOD_CHANNEL_STALLED = 0, 1, 2, 3
local BASS_ERRORS = { [2] = "BASS_ERROR_FILEOPEN", [41] = "BASS_ERROR_FILEFORM" }
local FLAGS = { ["3d"] = true, mono = true, noplay = true, noblock = true }
local Channel = {}
Channel.__index = Channel
function Channel:IsValid() return not self._stopped end
function Channel:Is3D() return self._3d end
function Channel:SetPos(pos, dir)
  if not self._3d then error("IGModAudioChannel:SetPos: the channel is not 3D (no \"3d\" flag)") end
  self._pos = Vector(pos)
end
function Channel:GetPos() return self._pos end
function Channel:SetVolume(v) self._volume = v end
function Channel:GetVolume() return self._volume end
function Channel:Set3DFadeDistance(min, max) self._fade = { min, max } end
function Channel:Play() self._state = GMOD_CHANNEL_PLAYING self._plays = self._plays + 1 end
function Channel:Pause() self._state = GMOD_CHANNEL_PAUSED end
function Channel:Stop() self._state = GMOD_CHANNEL_STOPPED self._stopped = true end
function Channel:GetState() return self._state end
function Channel:GetLength() return self._length end
if CLIENT then
  function sound.PlayURL(url, flags, callback)
    if type(url) ~= "string" then error("bad argument #1 to 'PlayURL' (string expected)") end
    if type(flags) ~= "string" then error("bad argument #2 to 'PlayURL' (string expected)") end
    if type(callback) ~= "function" then error("bad argument #3 to 'PlayURL' (function expected)") end
    local set = {}
    for word in string.gmatch(flags, "%S+") do
      if not FLAGS[word] then error("sound.PlayURL: unknown flag " .. word) end
      set[word] = true
    end
    local call = { url = url, flags = flags }
    __sound_log[#__sound_log + 1] = call
    timer.Simple(0, function()
      local status, kind, seconds = __fetch_audio(url)
      if status ~= 200 then return callback(nil, 2, BASS_ERRORS[2]) end
      if seconds == nil then return callback(nil, 41, BASS_ERRORS[41]) end
      local ch = setmetatable({ _3d = set["3d"] == true, _volume = 1, _plays = 0, _length = seconds,
        _state = set.noplay and GMOD_CHANNEL_STOPPED or GMOD_CHANNEL_PLAYING, _url = url }, Channel)
      if not set.noplay then ch._plays = 1 end
      call.channel = ch
      callback(ch)
    end)
  end
end

-- entities ---------------------------------------------------------------------------------
local registry = {}
local entities = {}
local next_index = 1
scripted_ents = {}
function scripted_ents.Register(t, name) registry[name] = t end
function scripted_ents.GetStored(name) return registry[name] and { t = registry[name] } end

local Entity = {}
Entity.__index = Entity
__Entity = Entity
function Entity:IsValid() return not self._removed end
function Entity:EntIndex() return self._index end
function Entity:GetClass() return self._class end
function Entity:SetPos(v) self._pos = Vector(v) end
function Entity:GetPos() return Vector(self._pos) end
function Entity:SetAngles(a) self._ang = a end
function Entity:GetAngles() return self._ang or Angle() end
function Entity:SetModel(m) self._model = m end
function Entity:GetModel() return self._model end
function Entity:SetHealth(h) self._health = h end
function Entity:Health() return self._health or 0 end
function Entity:SetMaxHealth(h) self._max_health = h end
function Entity:IsPlayer() return false end
function Entity:IsNPC() return false end
function Entity:IsNextBot() return self._nextbot or false end
function Entity:EmitSound() end
function Entity:SetNWString(k, v) self._nw = self._nw or {} self._nw[k] = v end
function Entity:GetNWString(k, d) return self._nw and self._nw[k] or d end
function Entity:SetCollisionBounds() end
function Entity:SetSolid() end
function Entity:DrawModel() end
function Entity:Use(activator, caller, use_type, value)
  self._used = (self._used or 0) + 1
  if self.ENT_Use then self:ENT_Use(activator, caller, use_type, value) end
end
function Entity:Remove()
  if self._removed then return end
  if self.OnRemove then self:OnRemove() end
  self._removed = true
  entities[self._index] = nil
end
function Entity:NetworkVar(kind, slot, name)
  self["Set" .. name] = function(s, v) s._nv = s._nv or {} s._nv[name] = v end
  self["Get" .. name] = function(s) return s._nv and s._nv[name] end
end
function Entity:Spawn() if self.Initialize then self:Initialize() end end
function Entity:Activate() end
-- nextbot parts
function Entity:StartActivity(act)
  self._activity = act
  self._activity_starts = (self._activity_starts or 0) + 1
end
function Entity:SelectWeightedSequence(act)
  local acts = string.find(self._model or "", "^models/player/") and PLAYER_ACTS or NPC_ACTS
  if act ~= nil and acts[act] then return act end
  return -1
end
function Entity:GetActivity() return self._activity end
function Entity:AddGesture(act)
  if act == nil then error("bad argument #1 to 'AddGesture' (number expected, got nil)") end
  self._gestures = self._gestures or {}
  table.insert(self._gestures, act)
end
function Entity:SetEyeTarget(v) self._eye_target = v end
function Entity:BodyUpdate() end
function Entity:HandleStuck() end

local Loco = {}
Loco.__index = Loco
function Loco:SetDesiredSpeed(s) self.speed = s end
function Loco:GetDesiredSpeed() return self.speed or 0 end
function Loco:SetAcceleration(a) self.accel = a end
function Loco:SetDeceleration(a) end
function Loco:SetStepHeight(h) end
function Loco:SetJumpHeight(h) end
function Loco:IsStuck() return false end
function Loco:ClearStuck() end
function Loco:GetVelocity() return self.vel or Vector() end
function Loco:FaceTowards(v) self.facing = Vector(v) end
-- one tick of movement towards the goal, at the desired speed (0 when never set)
function Loco:Approach(goal, weight)
  local bot = self.bot
  local pos = bot:GetPos()
  local d = goal - pos
  d.z = 0
  local dist = d:Length()
  local step = (self.speed or 0) * FrameTime()
  if dist <= step then bot:SetPos(Vector(goal.x, goal.y, pos.z))
  elseif dist > 0 then bot:SetPos(pos + d * (step / dist)) end
  self.approached = (self.approached or 0) + 1
end

local PathMT = {}
PathMT.__index = PathMT
function Path(kind) return setmetatable({ kind = kind, valid = false, tolerance = 25 }, PathMT) end
function PathMT:SetMinLookAheadDistance() end
function PathMT:SetGoalTolerance(t) self.tolerance = t end
function PathMT:Compute(bot, goal)
  if not navmesh.IsLoaded() then self.valid = false return false end
  self.goal, self.valid, self.born = Vector(goal), true, now
  navmesh.computed = (navmesh.computed or 0) + 1
  return true
end
function PathMT:IsValid() return self.valid end
function PathMT:GetAge() return now - (self.born or now) end
function PathMT:Invalidate() self.valid = false end
function PathMT:Update(bot)
  if not self.valid then return end
  bot.loco:Approach(self.goal, 1)
  local d = bot:GetPos() - self.goal
  d.z = 0
  if d:Length() <= self.tolerance then self.valid = false end
end
function PathMT:Draw() end
navmesh = { loaded = false }
function navmesh.IsLoaded() return navmesh.loaded end

base_nextbot = {}
function base_nextbot:MoveToPos(pos, options)
  options = options or {}
  local path = Path("Follow")
  path:SetMinLookAheadDistance(options.lookahead or 300)
  path:SetGoalTolerance(options.tolerance or 20)
  path:Compute(self, pos)
  if not path:IsValid() then return "failed" end
  while path:IsValid() do
    path:Update(self)
    if self.loco:IsStuck() then self:HandleStuck() return "stuck" end
    if options.maxage and path:GetAge() > options.maxage then return "timeout" end
    coroutine.yield()
  end
  return "ok"
end

ents = {}
function ents.Create(class)
  local def = registry[class]
  local e = setmetatable({ _class = class, _index = next_index, _pos = Vector() }, {
    __index = function(t, k)
      if def then
        local v = def[k]
        if v ~= nil then return v end
        if def.Base == "base_nextbot" then
          v = base_nextbot[k]
          if v ~= nil then return v end
        end
      end
      return Entity[k]
    end,
  })
  next_index = next_index + 1
  if def and def.Base == "base_nextbot" then
    e._nextbot = true
    e.loco = setmetatable({ bot = e }, Loco)
  end
  if def and def.SetupDataTables then def.SetupDataTables(e) end
  entities[e._index] = e
  return e
end
function ents.GetByIndex(i) return entities[i] or NULL end
Entity_by_index = ents.GetByIndex
_G.Entity = ents.GetByIndex  -- the global Entity(index); the local Entity is the metatable
function ents.GetAll()
  local out = {}
  for _, e in pairs(entities) do out[#out + 1] = e end
  return out
end
function ents.FindByClass(class)
  local out = {}
  for _, e in pairs(entities) do if e._class == class then out[#out + 1] = e end end
  return out
end

-- players ------------------------------------------------------------------------------------
local players = {}
local PlayerMT = setmetatable({}, { __index = Entity })
PlayerMT.__index = PlayerMT
function PlayerMT:IsPlayer() return true end
function PlayerMT:Nick() return self._nick end
PlayerMT.Name = PlayerMT.Nick
PlayerMT.GetName = PlayerMT.Nick
function PlayerMT:SteamID64() return self._sid64 end
function PlayerMT:SteamID() return "STEAM_0:0:" .. self._userid end
function PlayerMT:UserID() return self._userid end
function PlayerMT:EyePos() return self:GetPos() + Vector(0, 0, 64) end
function PlayerMT:ChatPrint(s) self._chat = self._chat or {} table.insert(self._chat, s) end
function PlayerMT:PrintMessage(kind, s)
  self._printed = self._printed or {}
  table.insert(self._printed, { kind = kind, text = s })
end
function PlayerMT:IsSuperAdmin() return self._superadmin == true end
function PlayerMT:IsAdmin() return self._superadmin == true end
function PlayerMT:IsBot() return false end
player = {}
function player.GetAll()
  local out = {}
  for _, p in ipairs(players) do if p:IsValid() then out[#out + 1] = p end end
  return out
end
function player.GetBySteamID64(id)
  for _, p in ipairs(players) do if p:IsValid() and p._sid64 == id then return p end end
  return false
end
function player.GetByID(id) for _, p in ipairs(players) do if p._index == id then return p end end return NULL end
-- harness: a player joins / leaves / speaks
function __add_player(nick, sid64, x, y, z)
  local p = setmetatable({ _class = "player", _index = next_index, _pos = Vector(x, y, z),
    _nick = nick, _sid64 = sid64, _userid = #players + 1 }, PlayerMT)
  next_index = next_index + 1
  entities[p._index] = p
  players[#players + 1] = p
  hook.Run("PlayerInitialSpawn", p, false)
  return p
end
function __remove_player(p)
  hook.Run("PlayerDisconnected", p)
  p._removed = true
  entities[p._index] = nil
end
function __say(p, text, team_only)
  local out = hook.Run("PlayerSay", p, text, team_only == true)
  if out == nil then out = text end
  return out
end

-- require and the GWSockets stand-in -----------------------------------------------------------
local modules = {}
function require(name)
  if modules[name] then return end
  if name == "gwsockets" and __gwsockets_installed then
    modules[name] = true
    include_stub_gwsockets()
    return
  end
  error("Module not found!")
end

function include_stub_gwsockets()
  --[[ Like FredyH/GWSockets: createWebSocket(url) returns a socket; open() connects in
  the background; write() queues text until connected; callbacks (onConnected,
  onMessage, onError, onDisconnected) run on the main thread, from a Think hook that
  drains what the network thread received. As in the real module, every message is
  text, a malformed URL makes createWebSocket return nothing, and onDisconnected gets a
  string, never a close code: "" in release 1.3.0, the close frame's reason on master
  (__gwsockets_release picks one; "1.3.0" by default). ]]
  local Socket = {}
  Socket.__index = Socket
  GWSockets = { _sockets = {} }
  function GWSockets.createWebSocket(url, verify)
    if type(url) ~= "string" or not string.match(url, "^wss?://[^/?#%s]+") then
      print("GWSockets: invalid websocket url " .. tostring(url))
      return
    end
    local s = setmetatable({ _id = __ws.new(url), _url = url }, Socket)
    GWSockets._sockets[s._id] = s
    return s
  end
  function Socket:open() __ws.open(self._id) end
  function Socket:write(text) __ws.write(self._id, text) end
  function Socket:close() __ws.close(self._id, false) end
  function Socket:closeNow() __ws.close(self._id, true) end
  function Socket:setHeader(k, v) __ws.header(self._id, k, v) end
  function Socket:isConnected() return __ws.connected(self._id) end
  function Socket:clearQueue() end
  hook.Add("Think", "__GWSocketsPoll", function()
    for id, s in pairs(GWSockets._sockets) do
      while true do
        local kind, payload = __ws.poll(id)
        if kind == nil then break end
        if kind == "connected" then
          if s.onConnected then s:onConnected() end
        elseif kind == "message" then
          if s.onMessage then s:onMessage(payload) end
        elseif kind == "error" then
          if s.onError then s:onError(payload) end
        elseif kind == "disconnected" then
          GWSockets._sockets[id] = nil
          local reason = ""
          if __gwsockets_release == "master" then reason = payload or "" end
          if s.onDisconnected then s:onDisconnected(reason) end
          break
        end
      end
    end
  end)
end

-- one server frame --------------------------------------------------------------------------
local behaviours = {}
function __tick()
  run_timers()
  hook.Run("Think")
  hook.Run("Tick")
  for _, e in pairs(entities) do
    if e._nextbot and e.RunBehaviour and e:IsValid() then
      local co = behaviours[e]
      if co == nil or coroutine.status(co) == "dead" then
        co = coroutine.create(function() e:RunBehaviour() end)
        behaviours[e] = co
      end
      local ok, err = coroutine.resume(co)
      if not ok then
        __lua_errors[#__lua_errors + 1] = tostring(err)
        print("[nextbot error] " .. tostring(err))
      end
    end
  end
end
function coroutine.wait(seconds)
  local untill = now + seconds
  while now < untill do coroutine.yield() end
end
