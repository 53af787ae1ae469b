-- default.lua - what `engine -r capture.pcap` runs when no -s or -e is given:
-- the shipped log scripts (../shared/spec/logs.md).
require "logs.conn"
require "logs.weird"
