"""What people look at: the live view of a run (:mod:`.live`), the runs dashboard
(:mod:`.dashboard`), the terminal table (:mod:`.terminal`) and notebook display plumbing
(:mod:`.hooks`)."""
