package servicectl

// StartCommand starts the installed service.
const StartCommand = "storebox service start"

const installAdvice = "install storebox's MSI, or run `storebox service install` as Administrator"
