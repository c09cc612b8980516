import statistics, sys
from dpmodel.queueing.fig7 import predict, speedup_errors
from dpmodel.reference import FIG7_JCT_S
allc, allsp = [], []
for m in FIG7_JCT_S:
    cells = predict(m, None)
    allc += cells; sp = speedup_errors(cells); allsp += sp
    for mode in ("oracle","dualpath","basic"):
        e=[c.error_frac for c in cells if c.mode==mode]
        print(m, mode, "median|err| %.1f%%"%(100*statistics.median(abs(x) for x in e)), " ".join("%+.0f"%(100*x) for x in e), flush=True)
    print(m, "speedup median|err| %.1f%%"%(100*statistics.median(abs(s['error_frac']) for s in sp)))
for mode in ("oracle","dualpath","basic"):
    print("ALL", mode, "%.1f%%"%(100*statistics.median(abs(c.error_frac) for c in allc if c.mode==mode)))
print("ALL speedup %.1f%%"%(100*statistics.median(abs(s['error_frac']) for s in allsp)))
by={(c.model,c.workload,c.agents,c.mode):c for c in allc}
n_ok=n_tot=0
for (m,w,a,mode),c in by.items():
    if mode!="dualpath": continue
    o=by[(m,w,a,"oracle")]
    if c.jct_s_paper>1.1*o.jct_s_paper:
        n_tot+=1; n_ok+= c.jct_s_pred>o.jct_s_pred*1.0+1e-9
print("dualpath>oracle where paper >10%% above: %d/%d"%(n_ok,n_tot))
