-- examples/http_watchlist.lua - HTTP requests to hosts on a watch-list, with a
-- count per host. The list is one host a line (# comments allowed); a line
-- ".example.com" also matches every subdomain. The list's path comes from
-- `--set watchlist.hosts=FILE`, by default watch-hosts.txt next to this script.
--
-- Writes an alert for the first request to a watched host in each flow, one
-- `watch_http` record per matching request, and at the end one `watch_hosts`
-- record per watched host that was requested: requests, clients, first and
-- last time.
--
--   engine -r pcaps/http-curl.pcap -s scripts/examples/http_watchlist.lua
local engine = require "engine"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
engine.config_key("watchlist.hosts", nil, "file of host names (or .domain suffixes) to watch; default watch-hosts.txt beside the script")
local path = engine.config["watchlist.hosts"] or (here .. "watch-hosts.txt")

local exact, suffixes = {}, {}
for _, line in ipairs(engine.load_list(path)) do
  local h = line:lower():match("^%s*(%S+)")
  if h and h:sub(1, 1) == "." then suffixes[#suffixes + 1] = h
  elseif h then exact[h] = true end
end

-- the watched entry a Host header matches, or nil
local function watched(host)
  if not host then return nil end
  host = host:lower():gsub(":%d+$", ""):gsub("^%[(.*)%]$", "%1")
  if exact[host] then return host end
  for _, s in ipairs(suffixes) do
    if host:sub(-#s) == s or "." .. host == s then return s end
  end
  return nil
end

local counts = {} -- entry -> { requests, clients = set, nclients, first, last }

engine.log_columns("watch_http", { "watched", "method", "host", "uri" })
engine.log_columns("watch_hosts", { "watched", "requests", "clients", "first_ts", "last_ts" })

engine.on("http.request", function(flow, ev)
  local host = ev.host
  local entry = watched(host)
  if not entry then return end
  local now = engine.now()
  local c = counts[entry]
  if not c then
    c = { requests = 0, clients = {}, nclients = 0, first = now }
    counts[entry] = c
  end
  c.requests = c.requests + 1
  c.last = now
  if not c.clients[flow.orig_h] then
    c.clients[flow.orig_h] = true
    c.nclients = c.nclients + 1
  end
  engine.log_flow("watch_http", flow, { watched = entry, method = ev.method, host = host, uri = ev.uri })
  if not flow.data.watch_alerted then
    flow.data.watch_alerted = true
    engine.alert(flow, "request to a watched host", { host = host, uri = ev.uri })
  end
end)

engine.on("engine.done", function()
  local entries = {}
  for e in pairs(counts) do entries[#entries + 1] = e end
  table.sort(entries)
  for _, e in ipairs(entries) do
    local c = counts[e]
    engine.log("watch_hosts", { ts = engine.now(), watched = e, requests = c.requests,
      clients = c.nclients, first_ts = c.first, last_ts = c.last })
  end
end)
