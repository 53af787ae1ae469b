-- scripts/examples/http_watchlist.lua
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local WATCH = H.script("examples/http_watchlist.lua")

local function list_file(lines)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path
end

describe("examples/http_watchlist.lua", function()
  it("counts the requests to a watched host in a real capture", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { WATCH } }
    assert.are.equal(5, #out.watch_http)
    assert.are.equal(4, #out.alert) -- the first request of each of the 4 connections
    assert.are.equal(1, #out.watch_hosts)
    local h = out.watch_hosts[1]
    assert.are.equal("127.0.0.1", h.watched)
    assert.are.equal(5, h.requests)
    assert.are.equal(1, h.clients)
    assert.is_true(h.last_ts >= h.first_ts)
  end)

  it("matches subdomains of a dotted entry, ignoring ports and case", function()
    local path = list_file { "# test list", ".evil.example", "exact.example.org" }
    local eng = T.load { WATCH, config = { ["watchlist.hosts"] = path } }
    local function req(host, orig)
      eng:fire("http.request", { method = "GET", uri = "/", host = host }, { orig_h = orig })
    end
    req("a.b.EVIL.example:8080", "10.0.0.1")
    req("evil.example", "10.0.0.2")
    req("notevil.example", "10.0.0.3")
    req("exact.example.org", "10.0.0.1")
    req("www.exact.example.org", "10.0.0.1")
    eng:finish()
    os.remove(path)
    local hits = eng:records("watch_http")
    assert.are.equal(3, #hits)
    local hosts = eng:records("watch_hosts")
    assert.are.same({ ".evil.example", "exact.example.org" }, { hosts[1].watched, hosts[2].watched })
    assert.are.equal(2, hosts[1].requests)
    assert.are.equal(2, hosts[1].clients)
    assert.are.equal(1, hosts[2].requests)
  end)

  it("fails to load, naming the file, when the list is missing", function()
    assert.has_error(function()
      T.load { WATCH, config = { ["watchlist.hosts"] = "/nonexistent/list.txt" } }
    end)
  end)
end)
