-- logs/conn.lua - the conn stream: one record per flow, when it ends (Zeek's conn.log).
-- duration, orig_bytes and resp_bytes are present only when the flow lasted
-- longer than zero seconds, as in Zeek. local_orig/local_resp are present only
-- when net.local lists networks (Zeek's Site::local_nets: empty = not logged).
local engine = require "engine"

engine.log_columns("conn", {
  "proto", "service", "duration", "orig_bytes", "resp_bytes", "conn_state",
  "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes",
  "resp_pkts", "resp_ip_bytes", "vlan", "tunnel_parents", "ip_proto", "community_id",
})
-- Zeek's types, for --set log.format=tsv
engine.log_types("conn", { proto = "enum", vlan = "count", tunnel_parents = "set[string]",
  local_orig = "bool", local_resp = "bool", ip_proto = "count", orig_ip_bytes = "count",
  resp_ip_bytes = "count" })

-- an address as a list of 16 bytes (IPv4 as ::ffff:a.b.c.d), or nil
local function v4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local t = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255 }
  for _, x in ipairs { a, b, c, d } do
    x = tonumber(x)
    if x > 255 then return nil end
    t[#t + 1] = x
  end
  return t
end

-- IPv6 in hex groups with at most one "::" (no embedded dotted IPv4)
local function v6(s)
  if not s:find(":", 1, true) then return nil end
  local function groups(x)
    local g = {}
    if x == "" then return g end
    for h in (x .. ":"):gmatch("([^:]*):") do
      if not h:match("^%x%x?%x?%x?$") then return nil end
      g[#g + 1] = tonumber(h, 16)
    end
    return g
  end
  local head, rest = s:match("^(.-)::(.*)$")
  local g
  if head then
    local a, b = groups(head), groups(rest)
    if not a or not b or #a + #b > 7 then return nil end
    g = a
    for _ = 1, 8 - #a - #b do g[#g + 1] = 0 end
    for _, x in ipairs(b) do g[#g + 1] = x end
  else
    g = groups(s)
    if not g or #g ~= 8 then return nil end
  end
  local t = {}
  for _, x in ipairs(g) do t[#t + 1] = math.floor(x / 256); t[#t + 1] = x % 256 end
  return t
end

local function addr_bytes(s) return v4(s) or v6(s) end

-- net.local: comma-separated addresses or CIDRs ("10.0.0.0/8,fd00::/8"); a bad
-- entry stops the script with an error. IPv4 is matched as ::ffff:0:0/96.
local nets = {}
local spec = engine.config["net.local"]
if spec and spec ~= "" then
  for item in tostring(spec):gmatch("[^,%s]+") do
    local a, len = item:match("^(.-)/(%d+)$")
    a = a or item
    local four = v4(a) ~= nil
    local b = addr_bytes(a)
    local bits = len and tonumber(len) or (four and 32 or 128)
    if not b or bits > (four and 32 or 128) then
      error("net.local: '" .. item .. "' is not an address or CIDR", 0)
    end
    nets[#nets + 1] = { b = b, bits = four and bits + 96 or bits }
  end
end

local function in_net(b, n)
  local bits = n.bits
  for i = 1, 16 do
    if bits <= 0 then return true end
    local d = bits >= 8 and 1 or 2 ^ (8 - bits) -- keep the top `bits` bits of the byte
    if math.floor(b[i] / d) ~= math.floor(n.b[i] / d) then return false end
    bits = bits - 8
  end
  return true
end

local function is_local(s)
  local b = s and addr_bytes(s)
  if not b then return false end
  for _, n in ipairs(nets) do
    if in_net(b, n) then return true end
  end
  return false
end

engine.on("flow.end", function(flow)
  local start = flow.start_ts
  local duration = flow.duration
  local history = flow.history
  local r = {
    ts = start,
    uid = flow.uid,
    ["id.orig_h"] = flow.orig_h,
    ["id.orig_p"] = flow.orig_p,
    ["id.resp_h"] = flow.resp_h,
    ["id.resp_p"] = flow.resp_p,
    proto = flow.proto,
    service = flow.services or flow.service,
    conn_state = flow.state,
    missed_bytes = flow.missed_bytes,
    history = history ~= "" and history or nil,
    orig_pkts = flow.orig_pkts,
    orig_ip_bytes = flow.orig_ip_bytes,
    resp_pkts = flow.resp_pkts,
    resp_ip_bytes = flow.resp_ip_bytes,
    vlan = flow.vlan,
    tunnel_parents = flow.tunnel_parents,
    ip_proto = flow.ip_proto,
    community_id = flow.community_id,
  }
  if #nets > 0 then
    r.local_orig = is_local(flow.orig_h)
    r.local_resp = is_local(flow.resp_h)
  end
  if duration > 0 then
    r.duration = duration
    r.orig_bytes = flow.orig_bytes
    r.resp_bytes = flow.resp_bytes
  end
  engine.log("conn", r)
end)
