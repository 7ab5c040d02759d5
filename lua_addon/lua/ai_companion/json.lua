--[[ A small JSON codec for the bridge protocol (plain Lua 5.1, runs in stock LuaJIT).

Why not util.TableToJSON / util.JSONToTable? Their quirks break the protocol:
  * an empty table encodes as "[]", so an empty "d" would reach the daemon as an array
    (a decode error, close 4002); this codec writes "{}" unless the table is marked as
    an array (json.array());
  * JSONToTable turns numeric-looking object keys into numbers and drops nulls, so
    arrays with nulls shift and objects change shape;
  * neither bounds nesting depth on input from the network; this decoder is iterative
    (it never recurses) and refuses nesting deeper than 32, like the daemon;
  * whole numbers must stay whole ("s": 3, not 3.0 or 3e0): this codec writes every
    whole number below 2^53 as digits.
Strings are passed through as UTF-8 bytes; invalid UTF-8 is replaced by U+FFFD on
encode, so a text frame is always valid UTF-8 (the daemon's WebSocket layer would
otherwise refuse the frame).
]]

if AICompanion and AICompanion.json then return AICompanion.json end

local json = {}

local string_byte, string_char, string_format, string_sub, string_find =
    string.byte, string.char, string.format, string.sub, string.find
local table_concat, math_floor, tostring, tonumber, type, pairs, next, setmetatable, getmetatable =
    table.concat, math.floor, tostring, tonumber, type, pairs, next, setmetatable, getmetatable

local ARRAY = { __jsontype = "array" }
local OBJECT = { __jsontype = "object" }
json.ARRAY_MT, json.OBJECT_MT = ARRAY, OBJECT
json.MAX_DEPTH = 32
json.null = setmetatable({}, { __tostring = function() return "null" end, __jsontype = "null" })

function json.array(t) return setmetatable(t or {}, ARRAY) end
function json.object(t) return setmetatable(t or {}, OBJECT) end

local function kind_of(t)
  local mt = getmetatable(t)
  if mt == ARRAY then return "array" end
  if mt == OBJECT then return "object" end
  if next(t) == nil then return "object" end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k ~= math_floor(k) then return "object" end
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then return "object" end
  end
  return "array"
end
json.kind_of = kind_of

-- valid UTF-8 passes as is; any invalid byte becomes U+FFFD
local function utf8_clean(s)
  if not string_find(s, "[\128-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = string_byte(s, i)
    local len = 0
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3
    elseif c >= 0xF0 and c <= 0xF4 then len = 4 end
    local ok = len > 0 and i + len - 1 <= n
    if ok and len > 1 then
      for j = i + 1, i + len - 1 do
        local cc = string_byte(s, j)
        if cc < 0x80 or cc > 0xBF then ok = false break end
      end
      if ok then
        local c2 = string_byte(s, i + 1)
        if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F)
          or (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then
          ok = false
        end
      end
    end
    if ok then
      out[#out + 1] = string_sub(s, i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = "\239\191\189"
      i = i + 1
    end
  end
  return table_concat(out)
end
json.utf8_clean = utf8_clean

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape_char(c)
  return ESC[c] or string_format("\\u%04x", string_byte(c))
end
local function encode_string(s)
  return '"' .. (utf8_clean(s):gsub('[%c"\\]', escape_char)) .. '"'
end

local function encode_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  if x == math_floor(x) and x > -9007199254740992 and x < 9007199254740992 then
    return string_format("%.0f", x)
  end
  local s = string_format("%.14g", x)
  if tonumber(s) ~= x then s = string_format("%.17g", x) end
  return s
end

-- iterative encoder: a work stack of pending tokens, so deep tables never overflow C
function json.encode(value)
  local out = {}
  local stack = { { v = value } }
  local depth_guard = 0
  while #stack > 0 do
    local item = stack[#stack]
    stack[#stack] = nil
    if item.raw then
      out[#out + 1] = item.raw
    else
      local v = item.v
      local tv = type(v)
      if v == nil or v == json.null then out[#out + 1] = "null"
      elseif tv == "boolean" then out[#out + 1] = v and "true" or "false"
      elseif tv == "number" then out[#out + 1] = encode_number(v)
      elseif tv == "string" then out[#out + 1] = encode_string(v)
      elseif tv == "table" then
        depth_guard = depth_guard + 1
        if depth_guard > 100000 then error("json.encode: value too large or cyclic") end
        if kind_of(v) == "array" then
          local n = #v
          local pushes = { { raw = "]" } }
          for i = n, 1, -1 do
            pushes[#pushes + 1] = { v = v[i] }
            if i > 1 then pushes[#pushes + 1] = { raw = "," } end
          end
          pushes[#pushes + 1] = { raw = "[" }
          for i = 1, #pushes do stack[#stack + 1] = pushes[i] end
        else
          local keys = {}
          for k in pairs(v) do
            local tk = type(k)
            if tk == "string" or tk == "number" then keys[#keys + 1] = k end
          end
          table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
          local pushes = { { raw = "}" } }
          for i = #keys, 1, -1 do
            local k = keys[i]
            pushes[#pushes + 1] = { v = v[k] }
            pushes[#pushes + 1] = { raw = encode_string(tostring(k)) .. ":" }
            if i > 1 then pushes[#pushes + 1] = { raw = "," } end
          end
          pushes[#pushes + 1] = { raw = "{" }
          for i = 1, #pushes do stack[#stack + 1] = pushes[i] end
        end
      else
        error("json.encode: cannot encode a " .. tv)
      end
    end
  end
  return table_concat(out)
end

local function utf8_char(cp)
  if cp < 0x80 then return string_char(cp) end
  if cp < 0x800 then
    return string_char(0xC0 + math_floor(cp / 64), 0x80 + cp % 64)
  end
  if cp < 0x10000 then
    return string_char(0xE0 + math_floor(cp / 4096), 0x80 + math_floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string_char(0xF0 + math_floor(cp / 262144), 0x80 + math_floor(cp / 4096) % 64,
    0x80 + math_floor(cp / 64) % 64, 0x80 + cp % 64)
end

local WS = "^[ \t\r\n]*()"

-- returns value, or nil and an error message. Iterative; nesting deeper than
-- max_depth (default 32) is an error.
function json.decode(s, max_depth)
  if type(s) ~= "string" then return nil, "not a string" end
  max_depth = max_depth or json.MAX_DEPTH
  local pos = 1
  local n = #s
  local stack = {}   -- open containers: { t = table, kind = "array"|"object", key = pending key }
  local result, have_result = nil, false

  local function fail(msg) return nil, string_format("%s at byte %d", msg, pos) end
  local function skip() pos = string.match(s, WS, pos) end

  local function read_string()
    -- pos at the opening quote
    local buf = {}
    local i = pos + 1
    while true do
      local a, b = string_find(s, '["\\%c]', i)
      if not a then return nil end
      if a > i then buf[#buf + 1] = string_sub(s, i, a - 1) end
      local c = string_sub(s, a, a)
      if c == '"' then pos = a + 1 return table_concat(buf) end
      if c ~= "\\" then return nil end
      local e = string_sub(s, a + 1, a + 1)
      if e == "u" then
        local hex = string_sub(s, a + 2, a + 5)
        if not string.match(hex, "^%x%x%x%x$") then return nil end
        local cp = tonumber(hex, 16)
        local nexti = a + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local hex2 = string.match(s, "^\\u(%x%x%x%x)", nexti)
          local lo = hex2 and tonumber(hex2, 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
            nexti = nexti + 6
          else
            cp = 0xFFFD
          end
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          cp = 0xFFFD
        end
        buf[#buf + 1] = utf8_char(cp)
        i = nexti
      else
        local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if not map[e] then return nil end
        buf[#buf + 1] = map[e]
        i = a + 2
      end
    end
  end

  local function put(v)
    local top = stack[#stack]
    if not top then
      result, have_result = v, true
      return
    end
    if top.kind == "array" then
      top.n = top.n + 1
      top.t[top.n] = v
    else
      top.t[top.key] = v
      top.key = nil
    end
  end

  -- after a value: "," or closers; returns true when the whole document is read
  local function after_value()
    while true do
      skip()
      local t2 = stack[#stack]
      if not t2 then return true end
      local d = string_sub(s, pos, pos)
      local closer = t2.kind == "array" and "]" or "}"
      if d == "," then
        pos = pos + 1
        skip()
        return false
      elseif d == closer then
        pos = pos + 1
        stack[#stack] = nil
        put(t2.t)
      else
        return nil, "expected ',' or '" .. closer .. "'"
      end
    end
  end

  skip()
  while true do
    if pos > n then return fail("unexpected end") end
    local top = stack[#stack]
    local c = string_sub(s, pos, pos)
    local completed = false
    if top and top.kind == "object" and top.key == nil then
      -- expecting a key or "}"
      if c == "}" and top.count == 0 then
        pos = pos + 1
        stack[#stack] = nil
        put(top.t)
        completed = true
      elseif c == '"' then
        local k = read_string()
        if not k then return fail("bad string") end
        skip()
        if string_sub(s, pos, pos) ~= ":" then return fail("expected ':'") end
        pos = pos + 1
        skip()
        top.key = k
        top.count = top.count + 1
      else
        return fail("expected a key")
      end
    elseif top and top.kind == "array" and top.fresh and c == "]" then
      pos = pos + 1
      stack[#stack] = nil
      put(top.t)
      completed = true
    else
      if top then top.fresh = false end
      if c == "{" or c == "[" then
        if #stack + 1 > max_depth then return fail("nested too deeply") end
        pos = pos + 1
        if c == "{" then
          stack[#stack + 1] = { t = setmetatable({}, OBJECT), kind = "object", count = 0 }
        else
          stack[#stack + 1] = { t = setmetatable({}, ARRAY), kind = "array", n = 0, fresh = true }
        end
        skip()
      else
        if c == '"' then
          local v = read_string()
          if not v then return fail("bad string") end
          put(v)
        elseif string_sub(s, pos, pos + 3) == "true" then pos = pos + 4 put(true)
        elseif string_sub(s, pos, pos + 4) == "false" then pos = pos + 5 put(false)
        elseif string_sub(s, pos, pos + 3) == "null" then pos = pos + 4 put(json.null)
        else
          local num = string.match(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
          local strict = num and (string.match(num, "^-?0$") or string.match(num, "^-?[1-9]%d*$")
            or string.match(num, "^-?0%.%d+$") or string.match(num, "^-?[1-9]%d*%.%d+$")
            or string.match(num, "^-?0[eE][-+]?%d+$") or string.match(num, "^-?[1-9]%d*[eE][-+]?%d+$")
            or string.match(num, "^-?0%.%d+[eE][-+]?%d+$") or string.match(num, "^-?[1-9]%d*%.%d+[eE][-+]?%d+$"))
          if not strict then return fail("unexpected character") end
          pos = pos + #num
          put(tonumber(num))
        end
        completed = true
      end
    end
    if completed then
      local done, err = after_value()
      if err then return fail(err) end
      if done then
        if pos <= n then return fail("trailing data") end
        return result
      end
    end
  end
end

AICompanion = AICompanion or {}
AICompanion.json = json
return json
