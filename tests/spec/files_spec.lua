-- logs/files.lua: one record per file, at file.done
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local FILES = H.script("logs/files.lua")

describe("scripts/logs/files.lua", function()
  it("logs the HTTP bodies of a capture with digests", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { FILES } }
    assert.are.equal(6, #out.files)
    for _, f in ipairs(out.files) do
      assert.are.equal("http", f.source)
      assert.matches("^F", f.fuid)
      assert.matches("^C", f.uid)
      assert.matches("^%x+$", f.md5)
      assert.are.equal(32, #f.md5)
      assert.are.equal(40, #f.sha1)
      assert.are.equal(64, #f.sha256)
      assert.are.equal(0, f.missing_bytes)
    end
    assert.are.equal("text/html", out.files[1].mime_type)
    assert.are.equal(41, out.files[1].seen_bytes)
    -- the one request body (the POST's) is the originator's
    local sent = H.where(out.files, { is_orig = true })
    assert.are.equal(1, #sent)
    assert.are.equal(30, sent[1].seen_bytes)
  end)

  it("logs mail attachments with their file names", function()
    local out = T.run { pcap = H.pcap("smtp-python.pcap"), scripts = { FILES } }
    local csv = H.where(out.files, { filename = "report.csv" })
    assert.are.equal(1, #csv)
    assert.are.equal("smtp", csv[1].source)
    assert.are.equal(true, csv[1].is_orig)
    assert.are.equal(2525, csv[1]["id.resp_p"])
  end)

  it("takes ts and is_orig from file.begin and sizes and digests from file.done", function()
    local eng = T.load { FILES }
    local flow = { resp_p = 8080 }
    eng:advance(2)
    eng:fire("file.begin", { fuid = "F1", source = "http", mime_type = "text/plain",
                             filename = "a.txt", dir = "resp", ts = 1e9 }, flow)
    eng:advance(3)
    eng:fire("file.done", { fuid = "F1", size = 5, md5 = "m", sha1 = "s1", sha256 = "s256",
                            missing_bytes = 0 }, flow)
    local f = eng:records("files")
    assert.are.equal(1, #f)
    assert.are.equal(1e9, f[1].ts)
    assert.are.equal(false, f[1].is_orig)
    assert.are.equal("a.txt", f[1].filename)
    assert.are.equal(5, f[1].seen_bytes)
    assert.are.equal("s256", f[1].sha256)
  end)

  it("still logs a file that never ended, at engine.done, without sizes", function()
    local eng = T.load { FILES }
    eng:fire("file.begin", { fuid = "F2", source = "smtp" }, { resp_p = 25 })
    assert.are.equal(0, #eng:records("files"))
    eng:finish()
    local f = eng:records("files")
    assert.are.equal(1, #f)
    assert.are.equal("F2", f[1].fuid)
    assert.are.equal(1e9, f[1].ts) -- no ts in the event: the time it was fired
    assert.is_nil(f[1].seen_bytes)
  end)
end)
