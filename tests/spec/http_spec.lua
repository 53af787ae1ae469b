-- logs/http.lua: one record per request/response pair
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local HTTP = H.script("logs/http.lua")

describe("scripts/logs/http.lua", function()
  local out
  setup(function()
    out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { HTTP } }
  end)

  it("logs every request of a capture with its response", function()
    local want = {
      { "GET", "/index.html", 200 }, { "GET", "/small.txt", 200 }, { "POST", "/submit", 201 },
      { "GET", "/no/such/page", 404 }, { "GET", "/big.txt", 200 },
    }
    assert.are.equal(#want, #out.http)
    for i, w in ipairs(want) do
      assert.are.equal(w[1], out.http[i].method)
      assert.are.equal(w[2], out.http[i].uri)
      assert.are.equal(w[3], out.http[i].status_code)
    end
  end)

  it("counts requests per connection and keeps the request's fields", function()
    local first, second = out.http[1], out.http[2]
    assert.are.equal(first.uid, second.uid)
    assert.are.equal(1, first.trans_depth)
    assert.are.equal(2, second.trans_depth)
    assert.are.equal("curl-test", first.user_agent)
    assert.are.equal("127.0.0.1:8080", first.host)
    assert.are.same({ "text/html" }, first.resp_mime_types)
  end)

  it("gives decoded body lengths both ways", function()
    local post = H.where(out.http, { method = "POST" })[1]
    assert.are.equal(30, post.request_body_len)
    assert.are.equal(18, post.response_body_len)
    assert.are.equal(100064, H.where(out.http, { uri = "/big.txt" })[1].response_body_len)
  end)

  it("puts request-body files in orig_* and response files in resp_*", function()
    local post = H.where(out.http, { method = "POST" })[1]
    assert.are.equal(1, #post.orig_fuids)
    assert.are.equal(1, #post.resp_fuids)
    assert.are_not.equal(post.orig_fuids[1], post.resp_fuids[1])
    assert.is_nil(out.http[1].orig_fuids)
    -- a request body that starts while an earlier response is still arriving
    local eng = T.load { HTTP }
    eng:fire("http.request", { method = "GET", uri = "/a" })
    eng:fire("http.request", { method = "POST", uri = "/b" })
    eng:fire("http.response", { status = 200, reason = "OK" })
    eng:fire("file.begin", { fuid = "Fpost", source = "http", dir = "orig", mime_type = "image/gif",
                             filename = "up.gif" })
    eng:fire("file.begin", { fuid = "Fget", source = "http", dir = "resp", mime_type = "text/plain" })
    eng:fire("http.message_done", { dir = "orig", body_len = 10 })
    eng:fire("http.message_done", { dir = "resp", status = 200, body_len = 10 })
    eng:fire("http.response", { status = 201, reason = "Created" })
    eng:fire("http.message_done", { dir = "resp", status = 201, body_len = 0 })
    local r = eng:records("http")
    assert.are.equal(2, #r)
    assert.are.same({ "Fget" }, r[1].resp_fuids)
    assert.is_nil(r[1].orig_fuids)
    assert.are.same({ "Fpost" }, r[2].orig_fuids)
    assert.are.same({ "image/gif" }, r[2].orig_mime_types)
    assert.are.same({ "up.gif" }, r[2].orig_filenames)
    assert.is_nil(r[2].resp_fuids)
  end)

  it("logs a request never answered when its flow ends", function()
    local eng = T.load { HTTP }
    local flow = { orig_h = "10.0.0.1", resp_h = "10.0.0.2", resp_p = 80 }
    eng:fire("http.request", { method = "GET", uri = "/x", version = "1.1", host = "h",
                               referrer = "http://r/",
                               headers = { host = "h", referer = "http://r/" } }, flow)
    assert.are.equal(0, #eng:records("http"))
    eng:fire("flow.end", { reason = "timeout" }, flow)
    local r = eng:records("http")
    assert.are.equal(1, #r)
    assert.are.equal("/x", r[1].uri)
    assert.are.equal("http://r/", r[1].referrer)
    assert.is_nil(r[1].status_code)
  end)

  it("does not log interim 1xx responses", function()
    local eng = T.load { HTTP }
    eng:fire("http.request", { method = "POST", uri = "/u" })
    eng:fire("http.response", { status = 100, reason = "Continue" })
    eng:fire("http.message_done", { dir = "resp", status = 100, body_len = 0 })
    -- the request's body ends before the final answer, as the decoder fires it (a
    -- response completed before its request's body is held until that body ends)
    eng:fire("http.message_done", { dir = "orig", body_len = 3 })
    eng:fire("http.response", { status = 200, reason = "OK" })
    eng:fire("http.message_done", { dir = "resp", status = 200, body_len = 7 })
    local r = eng:records("http")
    assert.are.equal(1, #r)
    assert.are.equal(200, r[1].status_code)
    assert.are.equal(7, r[1].response_body_len)
  end)

  it("holds a response completed before its request's body ended", function()
    local eng = T.load { HTTP }
    eng:fire("http.request", { method = "POST", uri = "/short" })
    eng:fire("http.response", { status = 400, reason = "Bad Request" })
    eng:fire("http.message_done", { dir = "resp", status = 400, body_len = 12 })
    assert.are.equal(0, #eng:records("http"))
    eng:fire("http.message_done", { dir = "orig", body_len = 6084 })
    local r = eng:records("http")
    assert.are.equal(1, #r)
    assert.are.equal(6084, r[1].request_body_len)
    assert.are.equal(12, r[1].response_body_len)
  end)

  it("logs an HTTP/0.9 answer (status 0, version 0.9)", function()
    local eng = T.load { HTTP }
    eng:fire("http.request", { method = "GET", uri = "/index.html", version = "" })
    eng:fire("http.message_done", { dir = "orig", body_len = 0 })
    eng:fire("http.response", { status = 0, version = "0.9" })
    eng:fire("http.message_done", { dir = "resp", status = 0, body_len = 73 })
    local r = eng:records("http")
    assert.are.equal(1, #r)
    assert.are.equal(0, r[1].status_code)
    assert.are.equal(73, r[1].response_body_len)
  end)
end)
