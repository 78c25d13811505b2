-- POST /oauth/token with the authorization_code grant: each thread sends its own slice of a file of codes, each
-- code once (a code is single-use).
-- usage: wrk -t T -c C ... -s code-exchange.lua URL -- CODES_FILE T BASIC REDIRECT_URI VERIFIER
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.number_threads

local codes, next_code, form_tail = {}, 1, ""
local function encode(text)
   return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
   codes = common.slice(args[1], id, tonumber(args[2]))
   wrk.method = "POST"
   wrk.path = "/oauth/token"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["Authorization"] = "Basic " .. args[3]
   form_tail = "&redirect_uri=" .. encode(args[4]) .. "&code_verifier=" .. args[5]
end

function request()
   local code = codes[next_code] or "codes-used-up" -- refused, and counted by wrk as non-2xx
   next_code = next_code + 1
   return wrk.format(nil, nil, nil, "grant_type=authorization_code&code=" .. code .. form_tail)
end
