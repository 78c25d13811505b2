-- Client-credentials token requests (client_secret_basic), the same bytes for every server.
-- usage: wrk ... -s client-credentials.lua URL -- PATH BASE64(CLIENT_ID:CLIENT_SECRET)
function init(args)
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["Authorization"] = "Basic " .. args[2]
   wrk.body = "grant_type=client_credentials"
end
