-- POST /login round-robin over users bench1..benchN (one password), so no account has several attempts in flight.
-- usage: wrk ... -s login.lua URL -- N PASSWORD
local n, password, i = 1, "", 0
function init(args)
   n, password = tonumber(args[1]), args[2]
   wrk.method = "POST"
   wrk.path = "/login"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   i = i % n + 1
   return wrk.format(nil, nil, nil,
      '{"username":"bench' .. i .. '","password":"' .. password .. '"}')
end
