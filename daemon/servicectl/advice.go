//go:build !windows

package servicectl

// StartCommand starts the installed service.
const StartCommand = "systemctl start storebox"

const installAdvice = "run `storebox service install` as root, or install the .deb"
