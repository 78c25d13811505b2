-- GET /api/me with one DPoP-bound access token and a fresh proof per request: the token is verified once and then
-- served by the verified-token cache, so each request costs what DPoP adds (a proof's ES256 verification and the
-- replay check) on top of a cached bearer request. Each proof is sent once; a thread that runs out starts again
-- from its first proof, which the server must refuse as a replay: done() says so, and load-bench.sh refuses the
-- figures.
-- usage: wrk -t T ... -s dpop.lua URL -- PROOFS_FILE T ACCESS_TOKEN
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local threads = {}
function setup(thread)
   common.number_threads(thread)
   threads[#threads + 1] = thread
end

local requests, sent = {}, 0
function init(args)
   local authorization = "DPoP " .. args[3]
   for _, proof in ipairs(common.slice(args[1], id, tonumber(args[2]))) do
      requests[#requests + 1] = wrk.format("GET", "/api/me", { Authorization = authorization, DPoP = proof })
   end
   proofs = #requests
end

function request()
   sent = sent + 1
   wrapped = sent > #requests
   return requests[(sent - 1) % #requests + 1]
end

function done()
   for _, thread in ipairs(threads) do
      if thread:get("wrapped") then
         print("fresh proofs exhausted: thread " .. thread:get("id") .. " reused its " .. thread:get("proofs") .. " proofs")
      end
   end
end
