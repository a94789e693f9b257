-- wrk script for GET /v1/contacts?search=: rotates through the comma-separated SEARCHES.
-- Env: BOOK (contact book id), TOKEN (API token), SEARCHES ("alice,smith jo,...").
local searches = {}
for s in string.gmatch(os.getenv("SEARCHES") or "smith", "[^,]+") do
  searches[#searches + 1] = s:gsub(" ", "%%20")
end
local book, token, i = os.getenv("BOOK"), os.getenv("TOKEN"), 0

request = function()
  i = i % #searches + 1
  local path = "/v1/contacts?contact_book=" .. book .. "&limit=50&search=" .. searches[i]
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

response = function(status)
  if status ~= 200 then
    error("unexpected status " .. status)
  end
end
