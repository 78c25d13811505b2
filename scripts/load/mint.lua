-- Mints access tokens with the client_credentials grant and appends each to $WAXSEAL_BENCH_OUT/tokens-<thread>.txt.
-- usage: WAXSEAL_BENCH_OUT=dir wrk ... -s mint.lua URL -- CLIENT_ID CLIENT_SECRET
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.number_threads

local out
function init(args)
   wrk.method = "POST"
   wrk.path = "/oauth/token"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.body = "grant_type=client_credentials&client_id=" .. args[1] .. "&client_secret=" .. args[2]
   out = assert(io.open(os.getenv("WAXSEAL_BENCH_OUT") .. "/tokens-" .. id .. ".txt", "w"))
   out:setvbuf("line")
end

function response(status, headers, body)
   local token = status == 200 and body:match('"access_token":"([^"]+)"')
   if token then out:write(token, "\n") end
end
