-- wrk script: POST /api/v1/bills/inquiry rotating over 4 demo lines x 6 months (24 keys).
-- Usage: wrk -t2 -c64 -d15s -s bench/inquiry.lua http://127.0.0.1:9102 -- <token> [fixed]
local token, fixed
local lines = { "01012345678", "01012347777", "01098765432", "01077778888" }
local months = {}
function init(args)
  token = args[1]
  fixed = args[2] == "fixed"
  local t = os.date("!*t", os.time() + 9 * 3600)
  local y, m = t.year, t.month
  for i = 1, 6 do
    months[i] = string.format("%04d%02d", y, m)
    m = m - 1
    if m == 0 then m = 12; y = y - 1 end
  end
end
local n = 0
function request()
  n = n + 1
  local line, month = lines[1], months[1]
  if not fixed then
    line = lines[(n % #lines) + 1]
    month = months[(math.floor(n / #lines) % #months) + 1]
  end
  local body = string.format('{"lineNumber":"%s","inquiryMonth":"%s"}', line, month)
  return wrk.format("POST", "/api/v1/bills/inquiry",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
