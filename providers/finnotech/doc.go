// Package finnotech is blockd's Finnotech client and adapter. It
// carries out oak amount blocks, unblocks and unblock-transfers, asks
// Finnotech about an unblock-transfer and about a person's credit facilities,
// and asks a call's status through the wages service to resolve a call whose
// answer was lost (Adapter.Resolve).
//
// The Client speaks Finnotech's JSON API: a Bearer token, a trackId query
// parameter on every call, and the envelope
// {"result":...,"status":"DONE","trackId":...} on success or, on failure,
// {"status":"FAILED","trackId":...,"error":{"code":...,"message":...}} or
// the same error nested in result (see "Envelope"). Every failure is a
// *providers.Error whose Class says whether the call may have been applied
// (see classify.go).
//
// Finnotech never replays a trackId: sending one again is answered with
// "duplicate tracking number" (Code DUPLICATE_TRACK_ID), not with the first
// answer. So the Client never retries. A caller retries a Retryable failure
// with a NEW trackId, and resolves an Unknown one by CallStatus (or
// Adapter.Resolve) on the old trackId, never by re-sending it.
//
// Tokens: the oak calls use the authorization-code token of the clientId,
// the facility inquiry and wages a client-credential token (see "Tokens"
// below). Tokens keeps both, renewing them before they expire and after
// Finnotech refuses them.
//
// The Adapter maps a providers.Request onto the Client. Package
// finnotechfake, beside this one, simulates Finnotech for tests and
// development; the paths, bodies, codes and texts the two share are
// written once, in internal/wire.
//
// The rest of this comment is the contract the package implements: what
// Finnotech documents, and what blockd decided where Finnotech is silent.
// It ends with the places where the code does not follow it yet.
//
// # Sources
//
// Every fact below carries one of these tags:
//
//   - [page: oak block] and [page: facility inquiry]: Finnotech's own pages
//     for POST .../block and GET .../facilityInquiry, the only Finnotech
//     pages blockd has in full. Code comments call them "the seed".
//   - [FDOC n]: page n (0-based index) of a scrape of Finnotech's docs site
//     as of September 2024, github.com/vhidvz/finnotech-doc-scraper, file
//     data.json, commit 7abfb66dcb8e5ff27c73fa6fc4a5b809c106e877. Pages
//     used: 1 (authorization-code token), 2, 31 and 148 (money transfers:
//     envelopes, the unknown-outcome rule), 9 (business error texts), 73
//     (balance: the UNAUTHORIZED answer), 123 (token refresh), 145 (wages),
//     151 (client-credential token).
//   - [finnotechjs path]: Finnotech's official Node SDK,
//     github.com/Finnotech/finnotechjs at commit
//     0d204c730b88d3e7a06fe406aae46740c00cebf5.
//   - [pyfinnotech path]: a community Python client,
//     github.com/mahdi13/pyfinnotech at commit
//     4803faa6e2a99a11afc946b39a0e923018f84047.
//   - [django-finnotech]: a fork of it whose scope list names the oak
//     scopes, github.com/Saman-Zand-H/django-finnotech at commit
//     e63505efc35bd100feff093cc5a45b27ef741881, file
//     finnotech/pyfinnotech/const.py.
//   - [assumed: why]: no source states it; blockd decided it, for the
//     reason given. Client and sandbox share every assumed shape (in
//     internal/wire), so they agree; change it there when Finnotech
//     confirms the real page.
//
// [page: oak block] links pages for unblock, unblock-transfer,
// unblock-transfer inquiry and a generic error list (/v2/generic-errors.html).
// None of them is public: no source above has them. Beyond the rules
// [page: oak block] states, everything about those three calls is assumed.
//
// Code comments elsewhere point into this document as (finnotech/doc.go,
// "Heading"), the path below providers/, mark a shape blockd assumed as
// ASSUMPTION (finnotech/doc.go, "Heading"), and mark code that does not
// follow the contract yet as DEVIATION (finnotech/doc.go, "Where the code
// does not follow this yet").
//
// # Platform
//
// The base URL is configuration. The pages name https://apibeta.finnotech.ir
// and the sandbox https://sandboxapi.finnotech.ir [page: oak block]; the
// 2024 docs name https://api.finnotech.ir [FDOC 145]. Paths have the form
// /{service}/v2/clients/{clientId}/..., where clientId is the Finnotech
// application's id [page: oak block]. Bodies are JSON [page: oak block].
//
// Amounts are whole rials [FDOC 1: maxAmountPerTransaction is in rials],
// held as int64 and never as floats [assumed: money]. Finnotech writes
// amount as a JSON number and days as a string ("12") [page: oak block], and
// the facility amounts as strings [page: facility inquiry] where the SDK
// has numbers [finnotechjs src/services/credit/interface.ts]; blockd reads
// either. Dates are Jalali (Solar Hijri); blockDate is YYMMDD [assumed: the
// example "951210" reads as a date only as 1395/12/10]; see package jalali.
//
// # Envelope
//
// A success is HTTP 200 with
//
//	{"result": {...}, "status": "DONE", "trackId": "..."}
//
// [page: oak block]. A failure, usually HTTP 400, is
//
//	{"status": "FAILED", "trackId": "...", "error": {"code": "...", "message": "..."}}
//
// [FDOC 148, FDOC 73]. Some pages show the failure nested inside result
// instead [FDOC 2, FDOC 148]:
//
//	{"result": {"response": null, "status": "FAILED",
//	            "error": {"code": "SERVICE_CALL_ERROR", "message": "Minimum amount is 10000 Rials. "}}, ...}
//
// An answer whose outer or inner status is FAILED, or whose result lacks
// the fields the operation returns, is never a success [assumed: the
// nested form may come with an outer DONE]. The fields each operation must
// return: block amount, deposit and blockDate (description and days, when
// not echoed, are the ones sent); unblock amount and unblockDate; transfer
// amount and transferDate; the transfer inquiry its status; wages its list
// [assumed: what only Finnotech can tell, plus the amount as proof]. A
// result of the wrong type does not hide the error beside it: the answer
// is read field by field.
//
// # Tokens
//
// The token endpoint is POST /dev/v2/oauth2/token, with a JSON body and
// HTTP Basic auth of the application's clientId and secret [FDOC 1,
// FDOC 151]. Its result holds value (the token), refreshToken, lifeTime in
// milliseconds (the example is 864000000, ten days), creationDate (Jalali
// YYYYMMDDHHmmss), scopes, bank and type [FDOC 1]. The grants:
//
//   - authorization_code: {"grant_type","code","bank","redirect_uri"},
//     after the customer consented at /dev/v2/oauth2/authorize; consent
//     to oak:block needs the limit and count parameters [FDOC 1].
//   - client_credentials: {"grant_type","nid","scopes"}, nid the 10-digit
//     national code of a person with access to the application, scopes
//     comma-separated [FDOC 151].
//   - refresh_token: {"grant_type","token_type" ("CODE" or
//     "CLIENT-CREDENTIAL"),"bank","refresh_token"}; refresh before the
//     token expires [FDOC 123].
//
// Which token a call takes:
//
//   - oak block, unblock, unblock-transfer and its inquiry: the
//     authorization-code token obtained on the customer's account at a
//     bank Finnotech works with [page: oak block]; scope oak:block:*
//     [page: oak block]. The other oak scope names are assumed; the
//     django-finnotech scope list spells them with a stray underscore
//     [django-finnotech].
//   - facility inquiry: a client-credential token, scope
//     credit:facility-inquiry:get [page: facility inquiry].
//   - wages: a client-credential token, scope boomrang:wages:get, never the
//     customer's token [FDOC 145].
//
// One Finnotech application serves every clientId a command names; the
// clientId only picks the stored token [assumed: blockd has one set of
// credentials].
//
// A refused token comes as HTTP 401, as code UNAUTHORIZED [FDOC 73], or as
// VALIDATION_ERROR with the message "invalid token" [finnotechjs
// src/common/http.ts]. All three mean the call was refused before it was
// applied: renew the token and send again with a new trackId [assumed: a
// refused token applies nothing]. pyfinnotech renews on any 403
// [pyfinnotech pyfinnotech/api.py]; blockd does not: a 403 without one of
// the signals above is a refusal of the call, not of the token [assumed:
// the pages name the dead token by its code and message]. A refused
// client-credential token is dropped alone, never a customer's token, and
// a call never falls back from one kind of token to the other.
//
// # Track IDs
//
// trackId is a query parameter: required on the money calls, at most 40
// letters and digits (the examples also use '-'), a UUID recommended
// [page: oak block]; optional on the facility inquiry, where Finnotech makes
// one up when it is missing [page: facility inquiry].
//
// Never send the same trackId twice [FDOC 148, FDOC 31]: a reused one is
// refused with "duplicate tracking number" [FDOC 9], it is not a replay of
// the first call, and the official SDK makes a new one when it retries
// [finnotechjs src/common/http.ts]. So every attempt gets a new trackId,
// recorded before it is sent, and a call whose outcome is unknown is asked
// about by its trackId (see "Wages"), never sent again.
//
// # Block
//
//	POST /oak/v2/clients/{clientId}/block?trackId=...
//	{"amount": 1, "description": "...", "days": "12"}
//
// holds amount rials on the customer's deposit for days days [page: oak
// block]. days is required and at most 90 [page: oak block], and at least
// 1 [assumed]. No description limit is documented; blockd allows 1–100
// characters [assumed: room for a reason, not a letter]. The success result
// is
//
//	{"amount": 1, "description": "...", "deposit": "0201698541000", "blockDate": "951210", "days": "12"}
//
// where deposit is the account the block was placed on [page: oak block]
// (which one the token decides [assumed]). amount, description and days
// are needed again by unblock and unblock-transfer, so blockd stores them
// with deposit, blockDate and the block's trackId [page: oak block]. Whether
// a block lapses by itself after its days is not documented.
//
// # Unblock
//
// Unblock releases the blocked amount, which becomes withdrawable; its
// amount must equal the block's [page: oak block].
//
//	POST /oak/v2/clients/{clientId}/unblock?trackId=...
//	{"amount": <the block's>, "description": <the block's>, "days": <the block's, a string>,
//	 "blockTrackId": <the trackId the successful block call was sent with>,
//	 "deposit": <the block's>, "blockDate": <the block's>}
//
// answers {"amount","deposit","unblockDate"}, the date Jalali YYMMDD
// [assumed: path and names follow block; the body holds the three values
// the oak block page says unblock needs, and what names the block].
//
// # Unblock-transfer
//
// Unblock and the transfer after it are separate calls: the transfer names
// the unblock by the unblock call's trackId, which must be stored for it.
// The transfer amount is at most the unblocked amount. Each successful
// block and unblock pair allows one successful transfer; a transfer of
// less than the unblocked amount forfeits the rest. If the balance left
// after the unblock is below the unblocked amount plus the bank's minimum
// balance, the transfer fails for insufficient balance, and Finnotech
// suggests sending it again for 1000 rials less [page: oak block]. (The
// page's overview also calls unblock-transfer "unblock and transfer at
// once"; blockd follows the notes.)
//
//	POST /oak/v2/clients/{clientId}/unblockTransfer?trackId=...
//	{"amount": <at most the unblocked amount>, "description": <the block's>, "days": <the block's>,
//	 "unblockTrackId": <the trackId the successful unblock call was sent with>,
//	 "destination": <deposit number or IBAN>}
//
// answers {"amount","source","destination","transferDate"}, the date
// Jalali YYMMDD [assumed: as for unblock; description and days are the
// block's because the oak block page says unblock-transfer needs them].
//
// # Unblock-transfer inquiry
//
// Finnotech has a service that tracks a transfer after unblock [page: oak
// block]; django-finnotech names its scope oak_unblock-transfer-inquiry:get
// [django-finnotech]. blockd assumes
//
//	GET /oak/v2/clients/{clientId}/unblockTransferInquiry?trackId=<new>&inquiryTrackId=<the transfer's trackId>
//
// answering {"status": "DONE"|"FAILED"|"PENDING", "amount", "source",
// "destination", "transferDate"}, the fields other than status possibly
// empty when the transfer did not succeed, and a transfer it never saw
// refused with "transaction not found" (تراکنش یافت نشد) [assumed: the
// page is not public]. For a transfer wages does not settle, its DONE is
// applied, FAILED not applied, and PENDING or "transaction not found"
// prove nothing (see "Unknown outcomes").
//
// # Wages
//
// The wages service gives the last status of a call by its trackId
// [FDOC 145]:
//
//	GET /dev/v2/clients/{clientId}/wages?trackId=<the call's trackId>
//
// with a client-credential token (see "Tokens"). It also takes fromDate,
// toDate, status, limit and offset. The answer is an array, empty when the
// trackId is not (yet) known:
//
//	{"result": {"wages": [{"trackId", "status", "amount", "transactionAmount", "serviceName",
//	                       "scopeName", "tariffName", "uid", "deposit", "date"}, ...],
//	            "total": n},
//	 "status": "DONE"}
//
// Each entry's status is DONE, FAILED, PENDING or UNKNOWN; amount is the
// fee, date Jalali YYYYMMDDHHMMSS [FDOC 145]. Finnotech adds that a call
// that is not DONE was charged no fee; that says nothing about whether it
// was applied. A block's trackId is what its fee is asked with [page: oak
// block], so wages covers the oak calls [assumed: from that remark].
//
// blockd reads the entries of the trackId it asked about; should there be
// several, DONE wins (only that call was ever sent with the trackId), then
// PENDING or UNKNOWN, then FAILED; another status is unreadable. A call
// wages finds DONE is recorded with what blockd sent and, from the entry,
// what only Finnotech knows: a block's deposit and blockDate, an unblock's
// unblockDate, a transfer's transferDate, each date the Jalali YYMMDD of
// the entry's date [assumed: the day the call was recorded is the day it
// took effect]. The result says so in an "inquiry" object, {"service":
// "wages", "status": "DONE", "fields": [the result fields the entry
// supplied]} (schemas.FinnotechInquiry); an entry without a usable date, or
// a block's without its deposit, leaves the outcome unknown.
//
// # Facility inquiry
//
//	GET /credit/v2/clients/{clientId}/users/{user}/facilityInquiry?trackId=...
//
// gives a person's current loans at every bank [page: facility inquiry].
// user is the national code (10 digits) of a person or the national id (11
// digits) of a legal entity; leading zeros count, so it stays a string
// [page: facility inquiry]. The result holds nid, name, the totals
// (facilityTotalAmount, facilityDebtTotalAmount,
// facilityPastExpiredTotalAmount, facilityDeferredTotalAmount,
// facilitySuspiciousTotalAmount), dishonored and facilityList; every item
// carries each value twice, camelCase (bankCode, amountOrginal, sic) and
// prefixed (FacilityBankCode, FacilityAmountOrginal, ...), dates Jalali
// YYYYMMDD and "0" for none [page: facility inquiry]. The two families
// disagree in the page's own example (other branch codes; debts of
// 101017180 and 1151155953 rials), and its facilityDebtTotalAmount is the
// sum of the camelCase family [page: facility inquiry]. Which is right is
// not said, so blockd keeps both, each under its own name: "summary" (the
// camelCase fields) and "contract" (the Facility* fields, with request
// number, status, currency and dates), each absent when none of its fields
// was sent. It reports the national id it asked about, since the sample
// echoes a 9-digit nid [page: facility inquiry]. "No facility" is a
// success, its message kept in the result:
//
//	{"result": {"result": 120, "nid": "...", "message": "هیچ تسهیلات و تعهدی یافت نشد"}, "status": "DONE", ...}
//
// [page: facility inquiry]; blockd also takes a missing or empty
// facilityList so [assumed]. The inquiry is a read: sending it again, with
// a new trackId, is safe [assumed].
//
// # Error codes
//
// What each answer means for blockd: permanent (refused; sending it again
// cannot help), retryable (certainly not applied; a new attempt with a new
// trackId may succeed) or unknown (may have been applied; see "Unknown
// outcomes"). Finnotech's generic error list is not public, so the classes
// are blockd's reading [assumed: the meaning of each text].
//
//   - Dead token (see "Tokens"): retryable, after a new token.
//   - "duplicate tracking number" (شماره پیگیری تکراری است) [FDOC 9]: this
//     call was not applied (permanent for it); what the earlier call with
//     that trackId did is asked of wages.
//   - "insufficient balance" (موجودی حساب کافی نیست) [FDOC 9]: permanent;
//     for a transfer see "Rules checked before sending".
//   - The other business texts of the money services [FDOC 9]: user
//     blocked, user inactive, invalid account, invalid amount, amount over
//     limit, transaction not found, invalid tracking number, account not in
//     whitelist: permanent.
//   - VALIDATION_ERROR, HTTP 400 [FDOC 148], and any other 4xx: permanent.
//   - HTTP 403 without a dead-token code or message: permanent (see
//     "Tokens").
//   - HTTP 429: retryable [assumed: a rate limit refuses before applying].
//   - "provider not responding" (سرویس دهنده جوابگو نیست) [FDOC 9], HTTP
//     408 [FDOC 148], a 5xx after the request was sent, a lost or
//     unreadable answer, a 2xx whose status is neither DONE nor FAILED:
//     unknown.
//   - HTTP 2xx with status FAILED, outer or nested (see "Envelope"), and an
//     error code or message: permanent, classified by the code and message
//     as above (so "provider not responding" stays unknown and
//     "insufficient balance" is detected in either envelope); without any
//     error: unknown [assumed: not explained]. A 2xx DONE beside an error,
//     or without the fields the operation returns: unknown.
//
// SERVICE_CALL_ERROR is the code of an error of the bank behind Finnotech
// [FDOC 2]; its message decides.
//
// # Unknown outcomes
//
// Finnotech's own rule: when a money call failed, is unknown or timed out
// (HTTP 408), do not repeat it; check, and decide within at most 72 hours
// [FDOC 148, FDOC 31]. So a block, unblock or transfer of unknown outcome is
// never sent again. blockd asks wages about its trackId until an entry says
//
//   - DONE: applied; or
//   - FAILED: not applied. Only then may a new attempt go out, with a new
//     trackId.
//
// PENDING, UNKNOWN and no entry at all leave the outcome unknown: ask again
// later. A transfer wages leaves unknown is also asked of the
// unblock-transfer inquiry: DONE is applied, FAILED not applied, PENDING
// and "transaction not found" leave it unknown (a late call may still
// land). When the resolve deadline (BLOCKD_RESOLVE_DEADLINE, default 10m,
// well inside 72 hours) passes first, the command ends FAILED with OUTCOME_UNKNOWN and
// needs reconciliation by an operator [assumed: the deadline is blockd's].
//
// An unblock-transfer whose own answer was not an explicit refusal is never
// sent again automatically, not even after a FAILED wages entry: money
// leaves the account, and Finnotech says to check the statement first. The
// command ends with what is known and the upstream decides [assumed: the
// cost of a double transfer]. An inquiry is a read and is simply asked
// again.
//
// # Rules checked before sending
//
// These are refused before any call (REJECTED, nothing sent): days outside
// 1–90 (see "Block"); an amount that is not > 0 [assumed]; an unblock
// amount other than the block's [page: oak block]; a transfer amount above
// the unblocked amount [page: oak block]; a second successful transfer for
// one block and unblock pair [page: oak block]; a transfer without a
// successful unblock [page: oak block].
//
// A transfer refused for insufficient balance may be sent once more, for
// the amount less 1000 rials [page: oak block], only when blockd is
// configured to, only after the first attempt is confirmed FAILED, and
// with a new trackId [assumed: the forfeited 1000 rials are the payee's
// loss, so it is the operator's choice].
//
// # The sandbox
//
// Package finnotechfake speaks this contract through internal/wire, with
// the client's deviations below. Its own choices, which are not Finnotech's:
//
//   - The tokens of Config.Tokens stand for tokens an operator obtained by
//     consent: they never expire and work at any bank. The token endpoint
//     takes any authorization code starting with "code-"; a refresh token
//     works once, and the token it replaces works until it expires.
//   - An injected "try again" fault is answered HTTP 429
//     TOO_MANY_REQUESTS; a drawn error is a 503 and a timeout a 504. None of
//     the three is applied.
//   - The other faults (sandboxfault) are answered so: a late call hangs
//     unseen by wages until the client gives up, is applied LateBy later and
//     never answered; apply-then-timeout answers 408 REQUEST_TIMEOUT;
//     apply-then-not-responding answers HTTP 400 FAILED SERVICE_CALL_ERROR
//     "provider not responding" (the status the pages give their failures,
//     so that only the text tells it from a refusal); status-lags applies,
//     answers nothing, and wages says UNKNOWN for StatusLag before DONE;
//     nested-failed answers 200 with the nested envelope under an outer
//     DONE, not applied.
//   - With Config.Tokens empty, a token the sandbox never issued works for
//     the services of its kind: a client-credential one when it starts with
//     "cc-" (finnotechfake.StaticToken hands out "cc-"+token), an
//     authorization-code one otherwise. A live token of the wrong kind or
//     scope is refused 403 FORBIDDEN, a dead one 403 UNAUTHORIZED.
//   - Wages answers the state at the request's arrival (a call in its
//     latency shows PENDING); its fee is 2500 rials for a DONE call.
//   - Each clientId has one deposit (DepositOf), and the refusal texts for
//     which Finnotech documents no text are the sandbox's own (internal/wire,
//     errors.go).
//
// # Where the code does not follow this yet
//
//   - The insufficient-balance retry is not implemented: there is no
//     setting for it, and the Client's CodeInsufficientBalance ends the
//     transfer FAILED.
package finnotech
