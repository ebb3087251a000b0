/*
 * The life of a recovery request, model-checked with spin (docs/model.md).
 *
 * What the C++ does, step by step, for N recovery admins approving and
 * declining at once, the member submitting, cancelling, redeeming and
 * completing (a recovery link, a new device's claim, or a cloud restore
 * asked while signed in), the clock passing deadlines, the sweeper
 * expiring, and an owner demoting an admin. Every step names the C++
 * function it stands for.
 *
 * Transactions. A service's store transaction that writes the request
 * row is two steps here: a read (its snapshot: the status, the approval
 * rows, who is eligible) and an atomic commit whose only check against
 * what others wrote since is the compare-and-set of Tx::UpdateRequest
 * (UPDATE ... WHERE id = ? AND status = <the status read>, sql_tx.cc) and
 * the store's unique keys (recovery_approvals PRIMARY KEY (request_id,
 * admin_id); recovery_requests_one_open). The database gives more
 * (SQLite BEGIN IMMEDIATE, PostgreSQL SERIALIZABLE): the properties
 * below hold even without it. A transaction that does not write the
 * request row (redeem start and verify, a device's open) is one atomic
 * step: its reads are its snapshot and nothing it writes is read by
 * anyone else before its caller's next step. A failed transaction
 * (Fail(...)) rolls back every write; a "late" refusal commits what came
 * before it (an expiry found on the way).
 *
 * Parameters (spin -D...): N admins, Q quorum, R requests one after the
 * other (slots). Seeded bugs, which spin must reject (scripts/check-model.sh):
 *   BUG_NO_CAS               UpdateRequest writes whatever the status is now
 *   BUG_APPROVE_ANY_STATUS   Approve inserts its approval before asking the
 *                            state machine, and the late refusal commits it
 *   BUG_NO_UNIQUE_APPROVAL   recovery_approvals without its primary key
 *                            (needs TABS and Q=3 to show)
 *   BUG_COUNT_INELIGIBLE     the quorum counts every approval row, not
 *                            EligibleApprovals
 *   BUG_DEVICE_NO_EXPIRY     DeviceRequestService::Complete skips
 *                            ExpireIfOverdue
 *   BUG_TICKET_OUTLIVES_LINK PutRedeemTicket gives 15 minutes whatever
 *                            the link's deadline
 * Options: TABS (admin 0 acts from two sessions at once), NO_DEMOTE,
 * LTL_ONLY (the assertions off: the LTL claims alone), WITNESS=k (below).
 */

#ifndef N
#define N 3
#endif
#ifndef Q
#define Q 2
#endif
#ifndef R
#define R 2
#endif

/* core::RequestStatus (domain.h); NONE: no request (std::nullopt). */
#define NONE      0
#define PENDING   1
#define APPROVED  2
#define LINK_USED 3
#define EXPIRED   4
#define DECLINED  5

/* core::RequestAction (recovery_state.h). */
#define SUBMIT          0
#define RECORD_APPROVAL 1
#define FINAL_APPROVAL  2
#define DECLINE         3
#define CANCEL          4
#define EXPIRE          5
#define REDEEM_START    6
#define REDEEM_VERIFY   7
#define COMPLETE        8

/* The refusals of core::NextRequestStatus: E_X is the error code
 * "recovery.x" (recovery_state.cc). */
#define E_OK              0
#define E_REQUEST_OPEN    1
#define E_NOT_PENDING     2
#define E_EXPIRED         3
#define E_NO_OPEN_REQUEST 4
#define E_NOT_OPEN        5
#define E_NOT_APPROVED    6
#define E_LINK_EXPIRED    7
#define E_LINK_USED       8
#define E_NOT_FOUND       9

/* core::RequestKind, as the steps differ: a recovery link (kRecovery, and
 * kRestore asked by email), a new device's claim (kDevice), a cloud
 * restore asked while signed in (kRestore with a device id: its last
 * approval completes it). */
#define K_LINK    0
#define K_DEVICE  1
#define K_SESSION 2

#define is_open(s)  ((s) == PENDING || (s) == APPROVED)
#define is_final(s) ((s) == LINK_USED || (s) == EXPIRED || (s) == DECLINED)

/*
 * The transition table: core::NextRequestStatus(current, action),
 * recovery_state.cc. One row per (status, action), `nxt = cur` with an
 * error for a refusal. src/core/recovery_state_model_test.cc parses the
 * rows between BEGIN and END and compares them with the C++ both ways:
 * keep one row per line, in this format.
 */
/* BEGIN next_status */
inline next_status(cur, act, nxt, err) {
  if
  :: cur == NONE      && act == SUBMIT          -> nxt = PENDING;   err = E_OK
  :: cur == NONE      && act == RECORD_APPROVAL -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == FINAL_APPROVAL  -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == DECLINE         -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == CANCEL          -> nxt = cur;       err = E_NO_OPEN_REQUEST
  :: cur == NONE      && act == EXPIRE          -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == REDEEM_START    -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == REDEEM_VERIFY   -> nxt = cur;       err = E_NOT_FOUND
  :: cur == NONE      && act == COMPLETE        -> nxt = cur;       err = E_NOT_FOUND
  :: cur == PENDING   && act == SUBMIT          -> nxt = cur;       err = E_REQUEST_OPEN
  :: cur == PENDING   && act == RECORD_APPROVAL -> nxt = PENDING;   err = E_OK
  :: cur == PENDING   && act == FINAL_APPROVAL  -> nxt = APPROVED;  err = E_OK
  :: cur == PENDING   && act == DECLINE         -> nxt = DECLINED;  err = E_OK
  :: cur == PENDING   && act == CANCEL          -> nxt = DECLINED;  err = E_OK
  :: cur == PENDING   && act == EXPIRE          -> nxt = EXPIRED;   err = E_OK
  :: cur == PENDING   && act == REDEEM_START    -> nxt = cur;       err = E_NOT_APPROVED
  :: cur == PENDING   && act == REDEEM_VERIFY   -> nxt = cur;       err = E_NOT_APPROVED
  :: cur == PENDING   && act == COMPLETE        -> nxt = cur;       err = E_NOT_APPROVED
  :: cur == APPROVED  && act == SUBMIT          -> nxt = cur;       err = E_REQUEST_OPEN
  :: cur == APPROVED  && act == RECORD_APPROVAL -> nxt = cur;       err = E_NOT_PENDING
  :: cur == APPROVED  && act == FINAL_APPROVAL  -> nxt = cur;       err = E_NOT_PENDING
  :: cur == APPROVED  && act == DECLINE         -> nxt = cur;       err = E_NOT_PENDING
  :: cur == APPROVED  && act == CANCEL          -> nxt = DECLINED;  err = E_OK
  :: cur == APPROVED  && act == EXPIRE          -> nxt = EXPIRED;   err = E_OK
  :: cur == APPROVED  && act == REDEEM_START    -> nxt = APPROVED;  err = E_OK
  :: cur == APPROVED  && act == REDEEM_VERIFY   -> nxt = APPROVED;  err = E_OK
  :: cur == APPROVED  && act == COMPLETE        -> nxt = LINK_USED; err = E_OK
  :: cur == LINK_USED && act == SUBMIT          -> nxt = PENDING;   err = E_OK
  :: cur == LINK_USED && act == RECORD_APPROVAL -> nxt = cur;       err = E_NOT_PENDING
  :: cur == LINK_USED && act == FINAL_APPROVAL  -> nxt = cur;       err = E_NOT_PENDING
  :: cur == LINK_USED && act == DECLINE         -> nxt = cur;       err = E_NOT_PENDING
  :: cur == LINK_USED && act == CANCEL          -> nxt = cur;       err = E_NO_OPEN_REQUEST
  :: cur == LINK_USED && act == EXPIRE          -> nxt = cur;       err = E_NOT_OPEN
  :: cur == LINK_USED && act == REDEEM_START    -> nxt = cur;       err = E_LINK_USED
  :: cur == LINK_USED && act == REDEEM_VERIFY   -> nxt = cur;       err = E_LINK_USED
  :: cur == LINK_USED && act == COMPLETE        -> nxt = cur;       err = E_LINK_USED
  :: cur == EXPIRED   && act == SUBMIT          -> nxt = PENDING;   err = E_OK
  :: cur == EXPIRED   && act == RECORD_APPROVAL -> nxt = cur;       err = E_EXPIRED
  :: cur == EXPIRED   && act == FINAL_APPROVAL  -> nxt = cur;       err = E_EXPIRED
  :: cur == EXPIRED   && act == DECLINE         -> nxt = cur;       err = E_EXPIRED
  :: cur == EXPIRED   && act == CANCEL          -> nxt = cur;       err = E_NO_OPEN_REQUEST
  :: cur == EXPIRED   && act == EXPIRE          -> nxt = cur;       err = E_NOT_OPEN
  :: cur == EXPIRED   && act == REDEEM_START    -> nxt = cur;       err = E_LINK_EXPIRED
  :: cur == EXPIRED   && act == REDEEM_VERIFY   -> nxt = cur;       err = E_LINK_EXPIRED
  :: cur == EXPIRED   && act == COMPLETE        -> nxt = cur;       err = E_LINK_EXPIRED
  :: cur == DECLINED  && act == SUBMIT          -> nxt = PENDING;   err = E_OK
  :: cur == DECLINED  && act == RECORD_APPROVAL -> nxt = cur;       err = E_NOT_PENDING
  :: cur == DECLINED  && act == FINAL_APPROVAL  -> nxt = cur;       err = E_NOT_PENDING
  :: cur == DECLINED  && act == DECLINE         -> nxt = cur;       err = E_NOT_PENDING
  :: cur == DECLINED  && act == CANCEL          -> nxt = cur;       err = E_NO_OPEN_REQUEST
  :: cur == DECLINED  && act == EXPIRE          -> nxt = cur;       err = E_NOT_OPEN
  :: cur == DECLINED  && act == REDEEM_START    -> nxt = cur;       err = E_NOT_APPROVED
  :: cur == DECLINED  && act == REDEEM_VERIFY   -> nxt = cur;       err = E_NOT_APPROVED
  :: cur == DECLINED  && act == COMPLETE        -> nxt = cur;       err = E_NOT_APPROVED
  :: else -> assert(false)
  fi
}
/* END next_status */

/* A request row (recovery_requests), its approval rows
 * (recovery_approvals, one per admin: appr[a] counts rows so that the
 * missing primary key of BUG_NO_UNIQUE_APPROVAL can show), and what the
 * member holds for it. */
typedef Req {
  byte status;
  byte kind;
  byte appr[N];
  bit overdue;     /* expires_at <= now (Clock) */
  bit code;        /* a redeem code was emailed (RedeemStart) */
  bit ticket;      /* a completion ticket (RedeemVerify) */
  bit quorum_met;  /* ghost: its final approval had Q distinct eligible admins */
  byte rows;       /* ghost: approval rows (the sum of appr) */
  byte rows_at_close;  /* ghost: rows when it left Pending */
  byte outcome;    /* ghost: the first final status it reached */
  bit late_use;    /* ghost: a link or claim served when not Approved or past its deadline */
}

Req req[R];
byte nreq;          /* requests submitted so far: slots 0 .. nreq-1 */
bit eligible[N];    /* CheckCanActOn(admin, member, kApproveRecovery) */

/* recovery_requests_one_open: at most one open request per account. */
#define one_open  (!(is_open(req[0].status) && is_open(req[R-1].status)) || R == 1)

/* core::UpdateFrom -> store::Tx::UpdateRequest(r, expected), sql_tx.cc:
 * the write happens only if the stored status is still `expected`
 * (store.stale otherwise, and the transaction fails). */
#ifdef BUG_NO_CAS
#define cas_ok(r, expected) (true)
#else
#define cas_ok(r, expected) (req[r].status == (expected))
#endif

/* The properties as assertions at the steps (check), and as LTL claims
 * over the state (the end of this file). -DLTL_ONLY leaves the assertions
 * out, to show that the claims alone catch a seeded bug. assert() is for
 * the model's own consistency and stays. */
#ifdef LTL_ONLY
#define check(x) skip
#else
#define check(x) assert(x)
#endif

/* Witnesses (docs/model.md): -DWITNESS=k turns the situation k into an
 * assertion failure, so a run that finds it shows the model reaches it
 * (the properties are not true merely because nothing happens). */
#define W_STALE_APPROVAL       1   /* an approval loses its compare-and-set */
#define W_STALE_EXPIRY         2   /* an expiry loses its compare-and-set */
#define W_USED_LINK            3   /* a recovery link completes */
#define W_USED_DEVICE          4   /* a device request completes */
#define W_USED_SESSION         5   /* a signed-in restore's last approval */
#define W_IGNORED_APPROVAL     7   /* a final approval leaves out a demoted admin's */
#define W_SECOND_USED          8   /* the second request is used */
#define W_CANCEL_APPROVED      9   /* the member cancels an approved request */
#define W_SWEEP_APPROVED       10  /* the sweeper expires an unused link */
#define W_SUBMIT_EXPIRES       11  /* a submission expires the overdue open request */
#define W_LOST_DECLINE         12  /* a decline loses its compare-and-set */
#ifdef WITNESS
#define reach(k) assert(WITNESS != (k))
#else
#define reach(k) skip
#endif

/* Number of distinct admins with an approval row on r. */
inline distinct_approvers(r, n, i) {
  n = 0; i = 0;
  do
  :: i < N -> if :: req[r].appr[i] > 0 -> n++ :: else fi; i++
  :: else -> break
  od
}

/* Every status write. The properties that hold at every write: a final
 * status is never left nor rewritten; Link Used only with a quorum. */
inline set_status(r, nw, n, i) {
  check(!is_final(req[r].status));
  if
  :: is_final(nw) && req[r].outcome == NONE -> req[r].outcome = nw
  :: else
  fi;
  if
  :: req[r].status == PENDING && nw != PENDING -> req[r].rows_at_close = req[r].rows
  :: else
  fi;
  if
  :: nw == LINK_USED ->
     distinct_approvers(r, n, i);
     check(req[r].quorum_met && n >= Q)
  :: else
  fi;
  req[r].status = nw
}

/* store::Tx::InsertApproval (recovery_approvals): no approval is counted
 * after a decline or an expiry, nor after the approval that made the
 * quorum. */
inline insert_approval(r, me) {
  check(req[r].status == PENDING);
  req[r].appr[me]++;
  req[r].rows++
}

/* A link or a device's claim is served (U released, or the device
 * completed): only an Approved request before its deadline. */
inline late_use_if(r) {
  if
  :: !(req[r].status == APPROVED && !req[r].overdue) -> req[r].late_use = 1
  :: else
  fi;
  check(!req[r].late_use)
}

/* core::ExpireIfOverdue, recovery_requests.cc: an open request past its
 * deadline becomes Expired, by compare-and-set with the status read
 * (`st`); a lost compare-and-set fails the transaction (stale = 1). */
inline expire_if_overdue(r, st, stale, nx, er, n, i) {
  if
  :: is_open(st) && req[r].overdue ->
     next_status(st, EXPIRE, nx, er);
     assert(er == E_OK);
     if
     :: cas_ok(r, st) -> set_status(r, nx, n, i); st = nx
     :: else -> stale = 1; reach(W_STALE_EXPIRY)
     fi
  :: else
  fi
}

/* ---- recovery admins ---- */

/* An admin acts on the member's latest request (an older one is final,
 * and every action on a final request is refused). A call that its
 * snapshot already refuses (a closed request, an admin who may not act,
 * an approval already given) writes nothing, so it is left out: a step
 * that changes nothing adds nothing to check. */
proctype Admin(byte me) {
  byte r, st, nx, er, n, i, cnt, el;
  byte seen[N];
  bit stale, fin;
end_idle:
  do
  :: /* core::RecoveryRequestService::Approve, recovery_requests.cc */
     d_step {
       nreq > 0 && is_open(req[nreq - 1].status) && eligible[me] &&
         req[nreq - 1].appr[me] == 0 ->
       /* The snapshot: LoadRequest; CheckDecisionOn's CheckCanActOn;
        * EligibleApprovals' ListApprovals and FindMember of each approver
        * (eligibility as read). */
       r = nreq - 1;
       st = req[r].status;
       i = 0;
       do
       :: i < N ->
          seen[i] = req[r].appr[i];
          if :: seen[i] > 0 -> el = el | (eligible[i] << i) :: else fi;
          i++
       :: else -> break
       od;
       i = 0
     };
     d_step {
       /* CheckDecisionOn's ExpireIfOverdue, then the approval */
       stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);
       if
       :: stale -> skip  /* the expiry lost its CAS: rolled back */
       :: else ->
          next_status(st, RECORD_APPROVAL, nx, er);
#ifdef BUG_APPROVE_ANY_STATUS
          if
          :: er != E_OK && req[r].appr[me] == 0 -> insert_approval(r, me)
          :: else
          fi;
#endif
          if
          :: er != E_OK -> skip  /* late refusal (not_pending, expired): committed */
          :: else ->
             /* EligibleApprovals: the approvals of admins who may still
              * approve; the caller had none (else already_approved). */
             cnt = 0; i = 0;
             do
             :: i < N ->
#ifdef BUG_COUNT_INELIGIBLE
                cnt = cnt + seen[i];
#else
                if :: (el >> i) & 1 -> cnt = cnt + seen[i] :: else fi;
#endif
                i++
             :: else -> break
             od;
             if
#ifndef BUG_NO_UNIQUE_APPROVAL
             :: req[r].appr[me] > 0 ->
                skip  /* InsertApproval: store.conflict (primary key): already_approved */
#endif
             :: else ->
                cnt++;
                fin = (cnt >= Q);
                if
                :: fin -> next_status(st, FINAL_APPROVAL, nx, er)
                :: else -> next_status(st, RECORD_APPROVAL, nx, er)
                fi;
                assert(er == E_OK);
                /* "Written even for a recorded approval": UpdateFrom(r, was) */
                if
                :: cas_ok(r, st) ->
                   insert_approval(r, me);
                   if
                   :: fin ->
                      /* The quorum: the approvals it counted and its own are
                       * from Q distinct admins, eligible as it read them. */
                      n = 1; i = 0;
                      do
                      :: i < N ->
                         if :: i != me && seen[i] > 0 && ((el >> i) & 1) -> n++ :: else fi;
                         i++
                      :: else -> break
                      od;
                      check(n >= Q);
                      i = 0;
                      do
                      :: i < N ->
                         if :: seen[i] > 0 && !((el >> i) & 1) -> reach(W_IGNORED_APPROVAL) :: else fi;
                         i++
                      :: else -> break
                      od;
                      req[r].quorum_met = (n >= Q);
                      req[r].overdue = 0;  /* expires_at = now + link_ttl */
                      set_status(r, nx, n, i);
                      if
                      :: req[r].kind == K_SESSION ->
                         /* RollBackInTx, then kComplete, same transaction */
                         next_status(APPROVED, COMPLETE, nx, er);
                         assert(er == E_OK);
                         set_status(r, nx, n, i);
                         reach(W_USED_SESSION)
                      :: else
                      fi
                   :: else -> set_status(r, nx, n, i)
                   fi
                :: else -> reach(W_STALE_APPROVAL)  /* NotPending: the approval is rolled back */
                fi
             fi
          fi
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; cnt = 0; el = 0; stale = 0; fin = 0;
       do :: i < N -> seen[i] = 0; i++ :: else -> break od;
       i = 0
     }
  :: /* core::RecoveryRequestService::Decline, recovery_requests.cc */
     d_step {
       nreq > 0 && is_open(req[nreq - 1].status) && eligible[me] ->  /* CheckCanActOn */
       r = nreq - 1;
       st = req[r].status
     };
     d_step {
       stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);
       if
       :: stale -> skip
       :: else ->
          next_status(st, DECLINE, nx, er);
          if
          :: er != E_OK -> skip  /* late refusal: committed */
          :: cas_ok(r, st) && er == E_OK -> set_status(r, nx, n, i)
          :: else -> reach(W_LOST_DECLINE)  /* UpdateFrom: NotPending, rolled back */
          fi
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; stale = 0
     }
  od
}
/* ---- the member ---- */

/* The member acts on their latest request, which is the only one that
 * can be open (recovery_requests_one_open). As for the admins, a call
 * whose snapshot already refuses it without writing is left out. */
proctype Member() {
  byte r, st, nx, er, n, i, k;
  bit stale;
end_idle:
  do
  :: /* Submit: RecoveryRequestService::Confirm (FindOpenRequest,
      * ExpireIfOverdue) -> SubmitRequest -> InsertSubmittedRequest
      * (recovery_requests.cc); DeviceRequestService::Submit
      * (device_requests.cc) skips NextRequestStatus and relies on the
      * one-open index. The kind is the member's choice. */
     nreq < R ->
     atomic {
       if
       :: k = K_LINK
       :: k = K_DEVICE
       :: k = K_SESSION
       fi;
       /* Tx::FindOpenRequest: the status of the open request, or none */
       if
       :: nreq > 0 && is_open(req[nreq - 1].status) -> st = req[nreq - 1].status
       :: else -> st = NONE
       fi
     };
     d_step {
       stale = 0;
       r = nreq - 1;  /* the open request, when st is not NONE */
       if
       :: st != NONE ->
          expire_if_overdue(r, st, stale, nx, er, n, i);
          if :: st == EXPIRED -> reach(W_SUBMIT_EXPIRES) :: else fi
       :: else
       fi;
       if
       :: stale -> skip
       :: else ->
          /* NextRequestStatus(the open request's status, kSubmit); an
           * expired one counts as closed */
          if
          :: k == K_DEVICE -> er = E_OK
          :: else -> next_status(st, SUBMIT, nx, er)
          fi;
          if
          :: er != E_OK -> skip  /* late: request_open */
          :: er == E_OK && nreq > 0 && is_open(req[nreq - 1].status) ->
             skip  /* InsertRequest: recovery_requests_one_open, store.conflict ->
                    * request_open, rolled back */
          :: else ->
             /* The closed request keeps its status; what no later step
              * reads of it is forgotten (fewer states, same checks). */
             if
             :: nreq > 0 ->
                i = 0;
                do :: i < N -> req[nreq - 1].appr[i] = 0; i++ :: else -> break od;
                req[nreq - 1].rows = 0; req[nreq - 1].rows_at_close = 0;
                req[nreq - 1].code = 0; req[nreq - 1].ticket = 0; req[nreq - 1].overdue = 0;
                req[nreq - 1].kind = 0
             :: else
             fi;
             req[nreq].status = PENDING;
             req[nreq].kind = k;
             nreq++;
             check(one_open)
          fi
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; k = 0; stale = 0
     }
  :: /* Cancel: RecoveryRequestService::Confirm (cancel intent: FindOpenRequest,
      * ExpireIfOverdue) -> CancelOpenRequest; AccountRestart's
      * CancelOpenRequestInTx. */
     d_step {
       nreq > 0 && is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status
     };
     d_step {
       stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);
       if
       :: stale -> skip
       :: else ->
          next_status(st, CANCEL, nx, er);
          if
          :: er != E_OK -> skip  /* late: no_open_request (an expiry stands) */
          :: cas_ok(r, st) && er == E_OK ->
             if :: st == APPROVED -> reach(W_CANCEL_APPROVED) :: else fi;
             set_status(r, nx, n, i)
          :: else -> skip  /* UpdateFrom: stale, rolled back */
          fi
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; stale = 0
     }
  :: /* core::RecoveryRequestService::RedeemStart (the link's token) */
     d_step {
       nreq > 0 && req[nreq - 1].kind == K_LINK && is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status; stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);
       assert(!stale);
       next_status(st, REDEEM_START, nx, er);
       if
       :: er == E_OK -> req[r].code = 1  /* PutEmailCode */
       :: else
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0
     }
  :: /* core::RecoveryRequestService::RedeemVerify: U and a ticket */
     d_step {
       nreq > 0 && req[nreq - 1].kind == K_LINK && req[nreq - 1].code &&
         is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status; stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);
       assert(!stale);
       next_status(st, REDEEM_VERIFY, nx, er);
       if
       :: er == E_OK ->  /* CheckRedeemCode: the code is right */
          /* an expired link never gives U */
          late_use_if(r);
          req[r].code = 0;
          req[r].ticket = 1  /* PutRedeemTicket */
       :: else
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0
     }
  :: /* core::RecoveryRequestService::Complete: LiveTicket, then the
      * request (no ExpireIfOverdue): the ticket ends with the link's deadline
      * at the latest (PutRedeemTicket), so a live ticket is read only before
      * it. */
     d_step {
       nreq > 0 && req[nreq - 1].kind == K_LINK && req[nreq - 1].ticket &&
         is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status;
       assert(!req[r].overdue)
     };
     d_step {
       next_status(st, COMPLETE, nx, er);
       if
       :: er != E_OK -> skip  /* recovery.invalid_ticket, rolled back */
       :: cas_ok(r, st) && er == E_OK ->
          req[r].ticket = 0;
          set_status(r, nx, n, i);
          reach(W_USED_LINK);
          if :: r == R - 1 && R > 1 -> reach(W_SECOND_USED) :: else fi
       :: else -> skip  /* UpdateFrom: invalid_ticket, rolled back */
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0
     }
  :: /* core::DeviceRequestService::Open (the device's claim): the grant
      * (U sealed to the device, and DA) only when Approved. It checks the
      * status itself, as the table's redeem_verify row does. */
     d_step {
       nreq > 0 && req[nreq - 1].kind == K_DEVICE && is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status; stale = 0;
       expire_if_overdue(r, st, stale, nx, er, n, i);  /* OnClaimedRequest */
       assert(!stale);
       next_status(st, REDEEM_VERIFY, nx, er);
       assert((st == APPROVED) == (er == E_OK));
       if
       :: st == APPROVED ->
          /* an expired claim never gives U */
          late_use_if(r)
       :: else
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0
     }
  :: /* core::DeviceRequestService::Complete: OnClaimedRequest's
      * ExpireIfOverdue, then kComplete by compare-and-set */
     d_step {
       nreq > 0 && req[nreq - 1].kind == K_DEVICE && is_open(req[nreq - 1].status) ->
       r = nreq - 1; st = req[r].status
     };
     d_step {
       stale = 0;
#ifndef BUG_DEVICE_NO_EXPIRY
       expire_if_overdue(r, st, stale, nx, er, n, i);
#endif
       if
       :: stale -> skip
       :: else ->
          next_status(st, COMPLETE, nx, er);
          if
          :: er != E_OK -> skip  /* late: not_approved, link_expired: committed */
          :: cas_ok(r, st) && er == E_OK ->
             /* an expired claim never completes */
             late_use_if(r);
             set_status(r, nx, n, i);
             reach(W_USED_DEVICE)
          :: else -> skip  /* UpdateFrom: stale, rolled back */
          fi
       fi;
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; stale = 0
     }
  od
}

/* ---- time ---- */

/* The clock: the open request's deadline may pass (pending_ttl before
 * approval, link_ttl after; the final approval sets a new one). */
proctype Clock() {
end_idle:
  do
  :: d_step {
       nreq > 0 && is_open(req[nreq - 1].status) && !req[nreq - 1].overdue ->
       req[nreq - 1].overdue = 1;
#ifndef BUG_TICKET_OUTLIVES_LINK
       req[nreq - 1].ticket = 0  /* a ticket lives until the deadline at most */
#else
       skip  /* the old 15 minutes whatever the deadline */
#endif
     }
  od
}

/* core::SweepRecoveryRequests -> ExpireEach, recovery_requests.cc (also
 * what List and Show run for the overdue requests they show): each in a
 * write transaction of its own that reads the request again. */
proctype Sweeper() {
  byte r, st, nx, er, n, i;
  bit stale;
end_idle:
  do
  :: d_step {
       /* Tx::ListExpiredOpenRequests, then FindRequest in ExpireEach's
        * own write transaction: its snapshot */
       nreq > 0 && is_open(req[nreq - 1].status) && req[nreq - 1].overdue ->
       r = nreq - 1; st = req[r].status
     };
     d_step {
       stale = 0;
       if
       :: st == APPROVED && req[r].status == APPROVED && req[r].overdue ->
          reach(W_SWEEP_APPROVED);
          /* the ticket ended with the deadline: no expiry strands one */
          assert(!req[r].ticket)
       :: else
       fi;
       expire_if_overdue(r, st, stale, nx, er, n, i);  /* lost CAS: logged, next sweep */
       r = 0; st = 0; nx = 0; er = 0; n = 0; i = 0; stale = 0
     }
  od
}

/* An owner demotes admin 0 (OrgMembers role change): its approvals stop
 * counting (EligibleApprovals) and it can no longer decide. */
proctype Demoter() {
  eligible[0] = 0
}

init {
  byte a = 0;
  atomic {
    do :: a < N -> eligible[a] = 1; a++ :: else -> break od;
    a = 0;
    do :: a < N -> run Admin(a); a++ :: else -> break od;
#ifdef TABS
    run Admin(0);  /* admin 0 again, from a second session */
#endif
    run Member();
    run Clock();
    run Sweeper();
#ifndef NO_DEMOTE
    run Demoter();
#endif
    a = 0
  }
}

/* ---- LTL properties (scripts/check-model.sh runs each: pan -a -N name) ---- */

/* One final outcome per request: the first final status it reaches is
 * its status from then on. */
ltl one_outcome {
  [] ((req[0].outcome == NONE || req[0].status == req[0].outcome) &&
      (req[R-1].outcome == NONE || req[R-1].status == req[R-1].outcome))
}

/* No Link Used without the quorum of distinct eligible admins (met at its
 * final approval). */
ltl used_needs_quorum {
  [] (((req[0].status == LINK_USED) -> req[0].quorum_met) &&
      ((req[R-1].status == LINK_USED) -> req[R-1].quorum_met))
}

/* An expired request is never used, and no link or claim is served past
 * its deadline or outside Approved. */
ltl expired_never_used {
  [] (((req[0].status == EXPIRED) -> [] (req[0].status != LINK_USED)) &&
      ((req[R-1].status == EXPIRED) -> [] (req[R-1].status != LINK_USED)) &&
      !req[0].late_use && !req[R-1].late_use)
}

/* No approval row is added once a request left Pending (declined,
 * cancelled, expired, or approved by the quorum). */
ltl no_late_approval {
  [] (((req[0].status > PENDING) -> (req[0].rows == req[0].rows_at_close)) &&
      ((req[R-1].status > PENDING) -> (req[R-1].rows == req[R-1].rows_at_close)))
}

/* A member has at most one open request (recovery_requests_one_open). */
ltl one_open_request { [] one_open }
