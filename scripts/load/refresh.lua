-- POST /refresh in a loop: each thread keeps a queue of live refresh tokens; every answer's new token goes back in.
-- usage: wrk -t T -c C ... -s refresh.lua URL -- REFRESH_TOKENS_FILE T   (at least C tokens in the file)
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.number_threads

-- A FIFO: queue[head..tail] are the tokens not yet sent.
local queue, head, tail = {}, 1, 0
function init(args)
   queue = common.slice(args[1], id, tonumber(args[2]))
   tail = #queue
   wrk.method = "POST"
   wrk.path = "/refresh"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local token = "queue-empty" -- refused by the server and counted by wrk as non-2xx
   if head <= tail then
      token, queue[head] = queue[head], nil
      head = head + 1
   end
   return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
   local token = status == 200 and body:match('"refresh_token":"([^"]+)"')
   if token then
      tail = tail + 1
      queue[tail] = token
   end
end
