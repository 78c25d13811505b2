-- GET /api/me with each minted token once: no request can hit the verified-token cache.
-- wrk runs for its whole -d whatever a thread does, so a thread that runs out of tokens starts again from its first
-- one (cache hits); done() then says so, and load-bench.sh refuses the figures.
-- usage: wrk -t T ... -s fresh.lua URL -- TOKENS_FILE T
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local threads = {}
function setup(thread)
   common.number_threads(thread)
   threads[#threads + 1] = thread
end

local requests, sent = {}, 0
function init(args)
   -- Formatting every request up front keeps the load generator's per-request work to a table lookup.
   for _, token in ipairs(common.slice(args[1], id, tonumber(args[2]))) do
      requests[#requests + 1] = wrk.format("GET", "/api/me", { Authorization = "Bearer " .. token })
   end
   tokens = #requests
end

function request()
   sent = sent + 1
   wrapped = sent > #requests
   return requests[(sent - 1) % #requests + 1]
end

function done()
   for _, thread in ipairs(threads) do
      if thread:get("wrapped") then
         print("fresh tokens exhausted: thread " .. thread:get("id") .. " reused its " .. thread:get("tokens") .. " tokens")
      end
   end
end
