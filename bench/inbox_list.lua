-- GET /v1/conversations?inbox=true&limit=50. Env: TOKEN.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
request = function()
  return wrk.format("GET", "/v1/conversations?inbox=true&limit=50", b.headers)
end
response = b.check
