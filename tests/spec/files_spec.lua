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

  it("carries Zeek's other files.log fields from file.done", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { FILES } }
    for _, f in ipairs(out.files) do
      assert.are.same({ "MD5", "SHA1", "SHA256" }, f.analyzers)
      assert.are.equal(0, f.overflow_bytes)
      assert.are.equal(false, f.timedout)
      assert.is_true(f.duration >= 0)
      assert.is_true(f.depth >= 1) -- the HTTP transaction in its connection
      assert.is_nil(f.extracted)
      assert.is_nil(f.local_orig)
    end
    -- the 41-byte index.html had a Content-Length
    assert.are.equal(41, out.files[1].total_bytes)
    local mail = T.run { pcap = H.pcap("smtp-python.pcap"), scripts = { FILES } }
    local csv = H.where(mail.files, { filename = "report.csv" })
    assert.are.equal(3, csv[1].depth) -- the third MIME entity of the message
  end)

  it("logs extracted, extracted_cutoff and extracted_size as file.done gives them", function()
    local eng = T.load { FILES }
    eng:fire("file.begin", { fuid = "F3", source = "http", dir = "resp", ts = 5 }, { resp_p = 80 })
    eng:fire("file.done", { fuid = "F3", size = 10, missing_bytes = 0, depth = 2, duration = 0.5,
                            total_bytes = 10, analyzers = { "SHA256", "EXTRACT" },
                            extracted = "extract-5.000000-HTTP-F3", extracted_cutoff = true,
                            extracted_size = 4 }, { resp_p = 80 })
    local f = eng:records("files")[1]
    assert.are.equal("extract-5.000000-HTTP-F3", f.extracted)
    assert.are.equal(true, f.extracted_cutoff)
    assert.are.equal(4, f.extracted_size)
    assert.are.same({ "SHA256", "EXTRACT" }, f.analyzers)
    assert.are.equal(2, f.depth)
    assert.are.equal(10, f.total_bytes)
  end)
end)
