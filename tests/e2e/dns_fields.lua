-- dns_fields.lua - what tests/e2e/test_dns_tshark.sh compares with tshark: one line per
-- question of a query and per response, in tshark's terms (numbers for types and rcodes,
-- the id in hex, every record of the three sections but OPT in order):
--   Q <id> <qname> <qtype>
--   R <id> <qname> <qtype> <rcode> <names|...> <types|...> <A data|...> <AAAA data|...> <CNAME data|...>
-- and, after DIG lines, the data of every answer ("DIG <qtype> <qname>: <data>") for the
-- comparison with what dig printed. FORCE_DNS=1: every flow with port 53 gets the decoder.
local engine = require "engine"
local T = { A=1, NS=2, MD=3, MF=4, CNAME=5, SOA=6, MB=7, MG=8, MR=9, NULL=10, WKS=11, PTR=12,
  HINFO=13, MINFO=14, MX=15, TXT=16, RP=17, AFSDB=18, X25=19, ISDN=20, RT=21, NSAP=22,
  ["NSAP-PTR"]=23, SIG=24, KEY=25, PX=26, GPOS=27, AAAA=28, LOC=29, NXT=30, SRV=33, NAPTR=35,
  KX=36, CERT=37, A6=38, DNAME=39, OPT=41, APL=42, DS=43, SSHFP=44, IPSECKEY=45, RRSIG=46,
  NSEC=47, DNSKEY=48, DHCID=49, NSEC3=50, NSEC3PARAM=51, TLSA=52, SMIMEA=53, HIP=55, CDS=59,
  CDNSKEY=60, OPENPGPKEY=61, CSYNC=62, ZONEMD=63, SVCB=64, HTTPS=65, SPF=99, EUI48=108,
  EUI64=109, TKEY=249, TSIG=250, IXFR=251, AXFR=252, MAILB=253, MAILA=254, ANY=255, URI=256,
  CAA=257 }
local R = { NOERROR=0, FORMERR=1, SERVFAIL=2, NXDOMAIN=3, NOTIMP=4, REFUSED=5, YXDOMAIN=6,
  YXRRSET=7, NXRRSET=8, NOTAUTH=9, NOTZONE=10, DSOTYPENI=11, BADVERS=16, BADKEY=17, BADTIME=18,
  BADMODE=19, BADNAME=20, BADALG=21, BADTRUNC=22, BADCOOKIE=23 }
local function tn(t)
  if t == nil then return "" end
  return tostring(T[t] or tonumber(t:match("^TYPE(%d+)$")))
end
local function rn(r) return tostring((R[r] or tonumber(r:match("^RCODE(%d+)$"))) % 16) end
local function hex(id) return string.format("0x%04x", id) end

if os.getenv("FORCE_DNS") then
  engine.on("flow.start", function(flow)
    if flow.orig_p == 53 or flow.resp_p == 53 then flow:set_service("dns") end
  end)
end

engine.on("dns.query", function(f, ev)
  print(table.concat({ "Q", hex(ev.id), ev.qname, tn(ev.qtype) }, "\t"))
end)

engine.on("dns.answer", function(f, ev)
  local names, types, a, aaaa, cname = {}, {}, {}, {}, {}
  for _, sec in ipairs({ ev.answers, ev.authority, ev.additional }) do
    for i = 1, #sec do
      local r = sec[i]
      names[#names + 1] = r.name
      types[#types + 1] = tn(r.type)
      if r.type == "A" then a[#a + 1] = r.data end
      if r.type == "AAAA" then aaaa[#aaaa + 1] = r.data end
      if r.type == "CNAME" then cname[#cname + 1] = r.data end
    end
  end
  print(table.concat({ "R", hex(ev.id), ev.qname or "", tn(ev.qtype), rn(ev.rcode),
    table.concat(names, "|"), table.concat(types, "|"), table.concat(a, "|"),
    table.concat(aaaa, "|"), table.concat(cname, "|") }, "\t"))
  for _, r in ipairs(ev.answers) do
    print("DIG " .. (ev.qtype or "") .. " " .. (ev.qname or "") .. ": " .. r.data)
  end
end)
