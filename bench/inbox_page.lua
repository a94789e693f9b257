-- GET /v1/conversations?inbox=true: the default page of 25, issue 13's definition. Env: TOKEN.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
request = function()
  return wrk.format("GET", "/v1/conversations?inbox=true", b.headers)
end
response = b.check
