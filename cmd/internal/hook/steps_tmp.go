package hook

import "context"

func stepGit(context.Context, *Env, *preState) (Step, error) {
	return Step{Name: "git", Status: StatusSkipped}, nil
}
func stepSnapshot(context.Context, *Env, *preState) (Step, error) {
	return Step{Name: "snapshot", Status: StatusSkipped}, nil
}
