-- GET /api/me with each minted token exactly once: no request can hit the verified-token cache.
-- A thread that has used all its tokens stops, so the rate wrk reports is over fresh tokens only.
-- usage: wrk -t T ... -s fresh.lua URL -- TOKENS_FILE T
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.number_threads

local requests, sent, answered = {}, 0, 0
function init(args)
   -- Formatting every request up front keeps the load generator's per-request work to a table lookup.
   for _, token in ipairs(common.slice(args[1], id, tonumber(args[2]))) do
      requests[#requests + 1] = wrk.format("GET", "/api/me", { Authorization = "Bearer " .. token })
   end
end

function request()
   sent = sent + 1
   -- Past the end (connections still open when the thread stops) wrap around; those answers are not counted.
   return requests[(sent - 1) % #requests + 1]
end

function response(status)
   answered = answered + 1
   if answered >= #requests then wrk.thread:stop() end
end
